"""Sizes and limits of the Dynap-SE2-like family (docs/dynapse2.md): 4 cores of 256 neurons per chip,
chips on a 2-D mesh; per neuron 64 CAM entries and 4 SRAM destinations."""
CORES = 4
NEURONS_PER_CORE = 256
NEURONS = CORES * NEURONS_PER_CORE   # per chip
CHIPS_DEFAULT = 4                    # a virtual board's chips
MESH_DEFAULT = (2, 2)                # ... on a 2 x 2 mesh: chip i at (i % width, i // width)
MESH_MAX = 4                         # a mesh's width and height, 1..4 (up to 16 chips)
CAM_ENTRIES = 64
SRAM_DESTINATIONS = 4
TAG_BITS = 11
TAGS = 1 << TAG_BITS
HOP_MAX = 7                          # an SRAM destination's x and y hops, -7..7
WEIGHT_CURRENTS = 4                  # Iw_0..Iw_3, selected by a 4-bit mask per CAM entry
SYNAPSE_TYPES = ("AMPA", "GABA", "NMDA", "SHUNT")

# A run's limits: its length in steps, its step (s), its input events, the neurons whose state it
# records and the samples it records, and the spikes it may return.
DURATION_MAX = 100_000
DT_MIN, DT_MAX = 1e-6, 1e-3
EVENTS_MAX = 1 << 21
RECORD_MAX = 64
RECORD_SAMPLES_MAX = 1 << 22         # duration x recorded neurons
SPIKES_MAX = 1 << 24
TRACES = ("imem", "iampa", "igaba", "inmda", "ishunt", "iahp")
"""The state a trace records per step and neuron (A): membrane, the four synapses, adaptation."""
