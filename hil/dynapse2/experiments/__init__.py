"""The Dynap-SE2-like family's experiments (docs/dynapse2.md#experiments), registered on import:
``dynapse2.routing`` (:mod:`.routing`) and the analog ones."""
from . import routing  # noqa: F401  (registers)
