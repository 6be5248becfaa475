"""The bss2 experiments, registered with :func:`hil.contract.experiment.experiment`:
the MAC mode's (:mod:`.mac`), the spiking mode's (:mod:`.spiking`,
the label scan included), the structural tests of the synapse array, drivers and columns
(:mod:`.structural`), the CADC's code density and every channel's transfer (:mod:`.cadc`) and the
CapMem cells' scan (:mod:`.capmem`)."""
from . import cadc, capmem, mac, spiking, structural  # noqa: F401  (registers them)
