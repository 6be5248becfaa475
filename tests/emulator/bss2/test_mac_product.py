"""VirtualChip.mac_product (the whole product in one C call, computing only what each
block uses) against the padded full-block runs it stands for, and the reuse of the
tables a configuration is turned into.

The specification of a product is the software stack's: each block of 128 rows x
512 columns zero-padded, written with configure_mac and run with run_mac (one run
per block and per 65536 vectors, row block outer), the int8 partial sums added and
clamped. ``padded_product`` below is exactly that (hil.bss2.mac's path for any
backend), on a chip of its own.
"""
import numpy as np
import pytest

from emulator._native import lib
from emulator.bss2 import Faults, StuckBit, VirtualChip
from emulator.bss2 import geometry as g
from emulator.errors import InvalidInput
from hil.backends.emulator import EmulatorBackend
from hil.bss2.mac import blockwise

ISA_LEVELS = sorted({lib.bss2_set_isa(level) for level in (4, 3, 0)} | {0}, reverse=True)
lib.bss2_set_isa(4)

FAULTY = Faults(dead_neurons=(0, 2, 258, 511), noisy_neurons=((1, 3.0), (300, 0.7)),
                missing_codes=(126, 127, 133),
                stuck_bits=(StuckBit(0, 0, 1, 5, 1), StuckBit(0, 7, 3, 2, 1), StuckBit(1, 4, 0, 4, 1),
                            StuckBit(0, 250, 200, 5, 1)))
"""Faults on the rows and columns that small sub-shapes use (and on padded ones)."""


def padded_product(chip: VirtualChip, x: np.ndarray, W: np.ndarray, num_sends=1, wait=5) -> np.ndarray:
    """The product as full padded blocks, one configure_mac + run_mac each (the specification):
    hil.bss2.mac's path for backends without a product of their own, on this chip."""
    backend = EmulatorBackend()
    backend.chip = chip
    return blockwise(backend, x, W, num_sends, wait)


def random_operands(rng, batch, rows, cols, density=0.8):
    x = rng.integers(0, g.ACTIVATION_MAX + 1, (batch, rows)).astype(np.uint8)
    x[rng.random(x.shape) > density] = 0
    W = rng.integers(-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX + 1, (rows, cols)).astype(np.int8)
    return x, W


def twin_chips(serial, faults=Faults(), ideal=False, runs=0):
    a, b = VirtualChip(serial, faults=faults, ideal=ideal), VirtualChip(serial, faults=faults, ideal=ideal)
    a.run_counter = b.run_counter = runs
    return a, b


SHAPES = [(1, 1, 1), (1, 128, 512), (350, 4, 128), (350, 128, 3), (7, 129, 513), (30, 256, 1024),
          (25, 3, 257), (49, 200, 17), (24, 128, 256), (5, 300, 600)]


@pytest.mark.parametrize("faults", [Faults(), FAULTY], ids=["healthy", "faulty"])
@pytest.mark.parametrize("batch, rows, cols", SHAPES)
def test_product_equals_the_padded_full_blocks(batch, rows, cols, faults):
    rng = np.random.default_rng([batch, rows, cols, len(faults.dead_neurons)])
    x, W = random_operands(rng, batch, rows, cols)
    fast, spec = twin_chips("EMU-0042", faults, runs=int(rng.integers(0, 1000)))
    got = fast.mac_product(x, W)
    assert got.dtype == np.int64 and got.shape == (batch, cols)
    assert np.array_equal(got, padded_product(spec, x, W))
    assert fast.run_counter == spec.run_counter
    # afterwards both hold the last block's configuration: the next run agrees too
    probe = rng.integers(0, 32, (3, g.MAC_INPUTS)).astype(np.uint8)
    assert np.array_equal(fast.run_mac(probe), spec.run_mac(probe))


@pytest.mark.parametrize("trial", range(12))
def test_random_sub_shapes_with_faults_and_settings(trial):
    rng = np.random.default_rng(1000 + trial)
    batch = int(rng.integers(1, 80))
    rows = int(rng.integers(1, 300))
    cols = int(rng.integers(1, 1100))
    num_sends, wait = int(rng.integers(1, 12)), int(rng.integers(0, 300))
    faults = FAULTY if trial % 2 else Faults(stuck_bits=(StuckBit(1, int(rng.integers(0, 256)),
                                                                  int(rng.integers(0, 256)), 3, 1),))
    x, W = random_operands(rng, batch, rows, cols, density=rng.uniform(0.05, 1.0))
    fast, spec = twin_chips(f"EMU-{trial:04d}", faults, runs=int(rng.integers(0, 50)))
    assert np.array_equal(fast.mac_product(x, W, num_sends, wait), padded_product(spec, x, W, num_sends, wait))


@pytest.mark.parametrize("isa", ISA_LEVELS)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_product_is_the_same_on_every_code_path_and_thread_count(isa, threads):
    rng = np.random.default_rng(77)
    x, W = random_operands(rng, 101, 140, 530)
    spec = padded_product(VirtualChip("EMU-0077", faults=FAULTY), x, W)
    lib.bss2_set_isa(isa)
    lib.bss2_set_threads(threads)
    assert np.array_equal(VirtualChip("EMU-0077", faults=FAULTY).mac_product(x, W), spec)


FEW = (1, 2, 3, 5, 7, 8, 9, 16)
"""Used neurons of a hemisphere around the transposed path's limit (at most 8: the
samples in the vector lanes; 9 and 16: one panel of 16 columns)."""


@pytest.mark.parametrize("isa", ISA_LEVELS)
@pytest.mark.parametrize("trial", range(6))
def test_few_columns_on_every_code_path_equal_the_padded_full_blocks(isa, trial):
    """Hemispheres with a few used neurons (the transposed tiles and readout), with faults on
    those neurons, batches around the vector widths and the block of 24 samples, compressed
    outputs and several row blocks: the padded full runs' results, bit for bit."""
    rng = np.random.default_rng(2000 + trial)
    few = FEW[trial % len(FEW)], FEW[(trial + 3) % len(FEW)]
    cols = int(rng.choice([few[0], 256 + few[1], 512 + few[0], 1024 + 256 + few[1]]))
    rows = int(rng.choice([1, 3, 4, 5, 127, 128, 130, 257]))
    batch = int(rng.choice([1, 7, 8, 15, 16, 17, 23, 24, 25, 47, 49, 350]))
    x, W = random_operands(rng, batch, rows, cols, density=rng.uniform(0.1, 1.0))
    if trial % 3 == 0:  # drive neurons beyond their knees (membrane compression)
        x[:, : min(rows, 64)] = 31
        W[: min(rows, 64)] = 63
    faults = Faults(dead_neurons=(0, 2, 257), noisy_neurons=((1, 3.0), (258, 0.7)),
                    missing_codes=(126, 127, 133) if trial % 2 else (),
                    stuck_bits=(StuckBit(0, 1, 2, 5, 1), StuckBit(1, 3, 1, 4, 1)))
    num_sends, wait = int(rng.integers(1, 5)), int(rng.integers(0, 100))
    fast, spec = twin_chips(f"EMU-{40 + trial:04d}", faults, runs=int(rng.integers(0, 99)))
    want = padded_product(spec, x, W, num_sends, wait)
    lib.bss2_set_isa(isa)
    lib.bss2_set_threads(1 + trial % 2)
    assert np.array_equal(fast.mac_product(x, W, num_sends, wait), want)


@pytest.mark.parametrize("isa", ISA_LEVELS)
@pytest.mark.parametrize("cols", [3, 8, 259])
def test_few_columns_of_the_ideal_chip_equal_the_padded_full_blocks(isa, cols):
    """The noise-free (double) readout with the samples in the lanes."""
    rng = np.random.default_rng(cols)
    x, W = random_operands(rng, 41, 130, cols)
    fast, spec = twin_chips("EMU-0003", Faults(dead_neurons=(1, 256)), ideal=True)
    want = padded_product(spec, x, W, 3)
    lib.bss2_set_isa(isa)
    assert np.array_equal(fast.mac_product(x, W, 3), want)


@pytest.mark.parametrize("isa", ISA_LEVELS)
def test_few_columns_find_the_first_bad_activation(isa):
    lib.bss2_set_isa(isa)
    x, W = np.zeros((30, 5), np.uint8), np.ones((5, 3), np.int8)
    x[27, 4], x[29, 0] = 40, 33
    with pytest.raises(InvalidInput, match=r"^x\[27, 4\]: 40 is outside the allowed range 0\.\.31"):
        VirtualChip().mac_product(x, W)


def test_ideal_chip_product_equals_the_padded_runs():
    rng = np.random.default_rng(3)
    x, W = random_operands(rng, 60, 150, 40)
    fast, spec = twin_chips("EMU-0003", ideal=True)
    assert np.array_equal(fast.mac_product(x, W, 4), padded_product(spec, x, W, 4))


def test_a_batch_beyond_one_run_is_split_into_runs():
    """65536 + 5 vectors: two runs per block, their noise counted from sample 0 each."""
    rng = np.random.default_rng(4)
    x, W = random_operands(rng, g.MAX_BATCH + 5, 130, 20)
    fast, spec = twin_chips("EMU-0004")
    got = fast.mac_product(x, W)
    assert np.array_equal(got, padded_product(spec, x, W))
    assert fast.run_counter == 2 * 2


def test_partial_sums_are_added_then_clamped():
    """Row blocks that each read near +127 sum beyond the int8 range: the sum is clamped."""
    x = np.full((4, 256), 31, np.uint8)
    W = np.full((256, 8), 63, np.int8)
    W[128:, 4:] = -63
    fast, spec = twin_chips("EMU-0005")
    got = fast.mac_product(x, W)
    assert np.array_equal(got, padded_product(spec, x, W))
    assert (got[:, :4] == 127).all() and np.abs(got[:, 4:]).max() < 30


def test_product_refuses_bad_arguments():
    chip = VirtualChip()
    x, W = np.zeros((2, 3), np.uint8), np.zeros((3, 4), np.int8)
    with pytest.raises(InvalidInput, match=r"^W: expected a \(any, any\) int8 array, got int64"):
        chip.mac_product(x, W.astype(np.int64))
    with pytest.raises(InvalidInput, match=r"^x: expected a \(any, 3\) uint8 array, got uint8 array of shape \(2, 4\)"):
        chip.mac_product(np.zeros((2, 4), np.uint8), W)
    with pytest.raises(InvalidInput, match=r"^W\[1, 2\]: 64 is outside the allowed range -63\.\.63"):
        bad = W.copy()
        bad[1, 2] = 64
        chip.mac_product(x, bad)
    with pytest.raises(InvalidInput, match=r"^W\[129, 513\]: -64 is outside"):
        bad = np.zeros((130, 600), np.int8)
        bad[129, 513] = -64
        chip.mac_product(np.zeros((1, 130), np.uint8), bad)
    with pytest.raises(InvalidInput, match=r"^x\[1, 2\]: 32 is outside the allowed range 0\.\.31"):
        bad = x.copy()
        bad[1, 2] = 32
        chip.mac_product(bad, W)
    with pytest.raises(InvalidInput, match="num_sends"):
        chip.mac_product(x, W, num_sends=0)


# -- the tables of a configuration are reused only for the same bytes ---------------------------

def test_same_weights_reuse_the_tables_and_changed_ones_rebuild_them():
    rng = np.random.default_rng(8)
    chip = VirtualChip("EMU-0008", faults=FAULTY)
    w = rng.integers(-63, 64, (g.MAC_INPUTS, g.MAC_OUTPUTS)).astype(np.int8)
    chip.configure_mac(w)
    table, pulses = chip._weights, chip._pulses
    chip.configure_mac(w.copy())                      # the same bytes, another array
    assert chip._weights is table and chip._pulses is pulses
    w2 = w.copy()
    w2[127, 511] ^= 1                                  # one weight, the last one
    chip.configure_mac(w2)
    assert chip._weights is not table
    assert np.array_equal(chip._weights, VirtualChip("EMU-0008", faults=FAULTY)._weight_table(w2, 0, 128, 0, 512))
    trims = np.full((2, 128), 30, np.uint8)
    chip.configure_mac(w, trims)
    assert chip._weights is table and chip._pulses is not pulses
    chip.configure_mac(w)
    assert chip._pulses is pulses


def test_in_place_changes_of_the_callers_array_are_never_missed():
    """The same array object, changed in place between calls, gives the results of a
    chip that never saw it before (a fresh chip at the same run counter)."""
    rng = np.random.default_rng(9)
    x, W = random_operands(rng, 20, 200, 700)
    chip = VirtualChip("EMU-0009")
    for step in range(6):
        fresh = VirtualChip("EMU-0009")
        fresh.run_counter = chip.run_counter
        assert np.array_equal(chip.mac_product(x, W), padded_product(fresh, x, W)), step
        r, c = int(rng.integers(0, 200)), int(rng.integers(0, 700))
        W[r, c] = -W[r, c] if W[r, c] else 1            # one weight, somewhere
    weights = np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
    for step in range(3):
        chip.configure_mac(weights)
        fresh = VirtualChip("EMU-0009")
        fresh.configure_mac(weights.copy())
        assert np.array_equal(chip._weights, fresh._weights), step
        weights[step, 3 * step] = 17


def test_a_hash_collision_is_caught_by_the_byte_compare():
    """A kept table whose key matches but whose bytes differ is not used."""
    chip = VirtualChip("EMU-0010")
    w1 = np.zeros((4, 8), np.int8)
    w2 = w1.copy()
    w2[3, 7] = 5
    t1 = chip._weight_table(w1, 0, 4, 0, 8)
    chip._weight_tables.clear()
    key2 = (4, 8, lib.hil_hash2d(chip_ffi_buffer(w2), 4, 8, 8))
    chip._weight_tables[key2] = (w1.copy(), t1)        # as if w1 and w2 had collided
    t2 = chip._weight_table(w2, 0, 4, 0, 8)
    assert t2 is not t1 and not np.array_equal(t2, t1)
    assert np.array_equal(t2, VirtualChip("EMU-0010")._weight_table(w2, 0, 4, 0, 8))


def chip_ffi_buffer(a):
    from emulator._native import ffi
    return ffi.from_buffer("uint8_t[]", a)


def test_kept_tables_are_bounded_and_read_only():
    chip = VirtualChip("EMU-0011")
    for k in range(40):
        chip.mac_product(np.ones((1, 2), np.uint8), np.full((2, 3), k % 60, np.int8))
    assert len(chip._weight_tables) <= 16
    with pytest.raises(ValueError):
        chip._weights[0, 0, 0] = 1.0
