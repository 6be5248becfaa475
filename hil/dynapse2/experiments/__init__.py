"""The Dynap-SE2-like family's experiments (docs/dynapse2.md#experiments), registered on import:
``dynapse2.routing`` (:mod:`.routing`) and the analog ones."""
from . import neurons, routing, synapses  # noqa: F401  (registers)
