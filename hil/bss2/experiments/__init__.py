"""The bss2 experiments, registered with :func:`hil.contract.experiment.experiment`:
the MAC mode's (:mod:`.mac`), the CADC's (:mod:`.cadc`), the spiking mode's (:mod:`.spiking`) and
the structural tests of the synapse array, drivers and columns (:mod:`.structural`)."""
from . import cadc, mac, spiking, structural  # noqa: F401  (registers them)
