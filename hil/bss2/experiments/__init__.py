"""The bss2 experiments, registered with :func:`hil.contract.experiment.experiment`:
the MAC mode's (:mod:`.mac`), the CADC's (:mod:`.cadc`), the spiking mode's (:mod:`.spiking`),
the structural tests of the synapse array, drivers and columns (:mod:`.structural`) and the
tests of the CADC channels' transfer and the CapMem cells (:mod:`.cells`)."""
from . import cadc, capmem, cells, mac, spiking, structural  # noqa: F401  (registers them)
