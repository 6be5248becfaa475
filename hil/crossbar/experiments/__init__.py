"""The crossbar tile family's experiments (docs/crossbar.md#experiments), registered on import: the forward
pass's (:mod:`.forward`) and the pulsed update's (:mod:`.update`)."""
from . import forward, update  # noqa: F401  (registers)
