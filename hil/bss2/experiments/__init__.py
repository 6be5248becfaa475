"""The bss2 experiments, registered with :func:`hil.contract.experiment.experiment`:
the MAC mode's (:mod:`.mac`) and the CADC's (:mod:`.cadc`)."""
from . import cadc, mac  # noqa: F401  (registers them)
