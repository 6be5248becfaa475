"""Sizes of the Dynap-SE2-like family (docs/dynapse2.md): 4 cores of 256 neurons per chip, chips on a
2-D mesh; per neuron 64 CAM entries and 4 SRAM destinations."""
CORES = 4
NEURONS_PER_CORE = 256
NEURONS = CORES * NEURONS_PER_CORE   # per chip
CHIPS_DEFAULT = 4                    # a virtual board's chips (a 2 x 2 mesh)
CAM_ENTRIES = 64
SRAM_DESTINATIONS = 4
TAG_BITS = 11
WEIGHT_CURRENTS = 4                  # Iw_0..Iw_3, selected by a 4-bit mask per CAM entry
