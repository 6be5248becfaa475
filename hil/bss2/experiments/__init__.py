"""The bss2 experiments, registered with :func:`hil.contract.experiment.experiment`:
the MAC mode's (:mod:`.mac`), the CADC's (:mod:`.cadc`) and the spiking mode's (:mod:`.spiking`)."""
from . import cadc, cells, mac, spiking  # noqa: F401  (registers them)
