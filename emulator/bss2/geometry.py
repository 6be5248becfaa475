"""Geometry and time base of the BrainScaleS-2-like chip (each number and its public source:
docs/chip_model.md#numbers-and-their-sources)."""

HEMISPHERES = 2
ROWS_PER_HEMISPHERE = 256          # synapse rows
COLUMNS_PER_HEMISPHERE = 256       # synapse columns = neurons per hemisphere
DRIVERS_PER_HEMISPHERE = 128       # each driver feeds two rows (excitatory, inhibitory)
NEURONS = HEMISPHERES * COLUMNS_PER_HEMISPHERE   # 512

WEIGHT_BITS = 6                    # synapse weight 0..63
LABEL_BITS = 6                     # synapse label (address) 0..63
WEIGHT_MAX = (1 << WEIGHT_BITS) - 1

# MAC ("hagen") mode
MAC_INPUTS = DRIVERS_PER_HEMISPHERE   # logical inputs per run, shared by both hemispheres
MAC_OUTPUTS = NEURONS                 # outputs per run
ACTIVATION_MAX = 31                   # 5-bit activation; 0 sends no event
SIGNED_WEIGHT_MAX = WEIGHT_MAX        # signed logical weight -63..63 on two rows
CADC_BITS = 8
CADC_CODES = 1 << CADC_BITS
OUTPUT_MIN, OUTPUT_MAX = -128, 127    # int8 result of read - baseline

FPGA_CLOCK_HZ = 125e6                 # 8 ns per FPGA cycle
FPGA_CYCLE_S = 1.0 / FPGA_CLOCK_HZ

NUM_SENDS_MAX = 1024                  # repetitions of one input vector in a run
WAIT_BETWEEN_EVENTS_MAX = 4095        # FPGA cycles between two events
MAX_BATCH = 65536                     # input vectors in one run

# CapMem and the CADC ramp mode (see emulator/bss2/capmem.py)
CAPMEM_LEVEL_MAX = 1022               # 10-bit CapMem cell, 0..1022
CADC_RAMP_LEVEL_AT_ZERO = 128         # CapMem level that puts a nominal membrane at the bottom of code 0
CADC_RAMP_LEVELS_PER_CODE = 3         # CapMem levels per CADC code on a nominal neuron

# Spiking mode (see docs/spiking.md)
LABEL_MAX = (1 << 16) - 1             # 16-bit event label: bus 14-15, row select 6-10, address 0-5
DRIVER_BUSES = 4
ROW_SELECT_MAX = 31                   # 5-bit row select and compare mask of a synapse driver
ROW_MODES = 3                         # 0 off, 1 excitatory, 2 inhibitory
SPIKING_DURATION_MAX = 1_250_000      # FPGA cycles in one run (10 ms of chip time)
STEP_NS_MAX = 1000                    # integration step of the emulator, ns
TRIALS_MAX = 1024                     # trials in one run
STEPS_TIMES_TRIALS_MAX = 1 << 22      # integration steps x trials in one run
EVENTS_MAX = 1 << 21                  # input events in one run
REFRACTORY_MAX = 4095                 # refractory counter, FPGA cycles
CADC_PERIOD_MIN = 213                 # FPGA cycles between CADC samples (1.7 us)
CADC_PERIOD_MAX = 65535
CADC_PERIOD_DEFAULT = 230             # 1.84 us
MADC_PERIOD_NS = 34                   # 29.4 MSa/s
MADC_BITS = 10
MADC_CODES = 1 << MADC_BITS
READOUT_BYTES_MAX = 1 << 25           # CADC and MADC samples of one run, bytes each (32 MiB)
