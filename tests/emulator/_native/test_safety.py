"""The C core stays memory-safe and deterministic whatever the caller does: defects
found by a sanitizer audit (issue 13), each reproduced by a test here.

Under ``tox -e sanitize`` (ASan + UBSan build) these tests also prove the absence
of out-of-bounds reads and undefined arithmetic on the paths they drive.
"""
import ctypes
import platform
import threading

import numpy as np
import pytest

from emulator._native import ffi, lib
from emulator.bss2 import VirtualChip
from emulator.bss2 import geometry as g
from emulator.errors import InvalidInput


def configured_twins(serial="EMU-0200", seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-63, 64, (g.MAC_INPUTS, g.MAC_OUTPUTS)).astype(np.int8)
    a, b = VirtualChip(serial), VirtualChip(serial)
    a.configure_mac(w)
    b.configure_mac(w)
    return a, b


# -- check-then-use: the caller's bytes are read once -----------------------------------------

def test_activations_written_during_a_run_are_read_once():
    """A thread writes 32..255 into the array (and puts the valid value back) while
    runs read it; cffi releases the GIL, so they overlap. Each run either computes
    from valid values only (all 5: the result of the clean array) or refuses with
    the value it read, above 31; never anything else (a read past the pulse table:
    an ASan report; in a normal build, wrong values)."""
    lib.bss2_set_threads(2)
    chip, twin = configured_twins()
    x = np.full((2000, g.MAC_INPUTS), 5, np.uint8)
    clean = x.copy()
    stop = threading.Event()

    def scribble():
        rng = np.random.default_rng(1)
        flat = x.reshape(-1)
        while not stop.is_set():
            i = int(rng.integers(0, flat.size))
            flat[i] = int(rng.integers(32, 256))
            flat[i] = 5

    writer = threading.Thread(target=scribble, daemon=True)
    writer.start()
    refused = computed = 0
    try:
        for _ in range(60):
            try:
                got = chip.run_mac(x)
            except InvalidInput as exc:
                assert exc.field.startswith("inputs[")
                value = int(exc.problem.split()[0])
                assert 32 <= value <= 255 and "outside the allowed range 0..31" in exc.problem
                twin.run_counter += 1
                refused += 1
            else:
                assert np.array_equal(got, twin.run_mac(clean))
                computed += 1
    finally:
        stop.set()
        writer.join(timeout=10)
    assert refused + computed == 60


class ShapeLiar(np.ndarray):
    """An ndarray subclass whose ``shape`` claims more rows than its buffer has."""

    @property
    def shape(self):
        return (4096,) + super().shape[1:]


def test_shape_is_taken_from_the_buffer_c_reads():
    chip, twin = configured_twins()
    x = np.random.default_rng(2).integers(0, 32, (3, g.MAC_INPUTS)).astype(np.uint8)
    liar = x.view(ShapeLiar)
    assert liar.shape == (4096, g.MAC_INPUTS)
    out = chip.run_mac(liar)                  # the 3 rows it holds, nothing beyond
    assert out.shape == (3, g.MAC_OUTPUTS) and np.array_equal(out, twin.run_mac(x))
    out = chip.mac_product(liar, np.ones((g.MAC_INPUTS, 5), np.int8))
    assert out.shape == (3, 5)
    with pytest.raises(InvalidInput, match=r"^weights: expected a \(128, 512\) int8 array, got int8 array of shape \(2, 512\)"):
        chip.configure_mac(np.zeros((2, g.MAC_OUTPUTS), np.int8).view(ShapeLiar))
    # and the last line of defence: the count C is told is checked against the buffer
    with pytest.raises(InvalidInput, match=r"^buffer: holds 384 elements where 524288 are needed"):
        chip._readout.run(chip._weights, chip._pulses, liar, chip._readout.scale_table(chip.pattern, 1, 5), 0)


# -- the C argument checks: 64-bit sizes with explicit bounds, no NULL ------------------------

class Args:
    """Valid arguments of bss2_mac_run and bss2_mac_product on small buffers; each
    test breaks one of them."""

    def __init__(self):
        self.chip = chip = VirtualChip("EMU-0201")
        chip.configure_mac(np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8))
        self.p = ffi.new("bss2_mac *")
        src = chip._readout.struct
        for f in ("n_in", "n_hemi", "n_col", "compress", "live", "knee_pos", "knee_neg", "rail_pos",
                  "rail_neg", "sigma_read", "sigma_base", "adc_frac", "cadc_slope", "adc_int", "code_map"):
            setattr(self.p, f, getattr(src, f))
        self.weights = ffi.from_buffer("float[]", chip._weights)
        self.pulses = ffi.from_buffer("float[]", chip._pulses)
        self.scale_arr = chip._readout.scale_table(chip.pattern, 1, 5)
        self.scale = ffi.from_buffer("double[]", self.scale_arr)
        self.x_arr = np.zeros((2, g.MAC_INPUTS), np.uint8)
        self.x = ffi.from_buffer("uint8_t[]", self.x_arr)
        self.out_arr = np.zeros((2, g.MAC_OUTPUTS), np.int64)
        self.out8 = ffi.from_buffer("int8_t[]", self.out_arr)   # big enough for either
        self.out64 = ffi.from_buffer("int64_t[]", self.out_arr)
        self.bad = ffi.new("int64_t[2]")
        self.blocks = ffi.new("float *[]", [self.weights])

    def run(self, **kw):
        a = dict(p=self.p, weights=self.weights, pulses=self.pulses, scale=self.scale, x=self.x,
                 batch=2, sample0=0, key=1, out=self.out8, bad=self.bad)
        a.update(kw)
        return lib.bss2_mac_run(*a.values())

    def product(self, **kw):
        a = dict(p=self.p, weights=self.blocks, n_blocks=1, pulses=self.pulses, scale=self.scale, x=self.x,
                 batch=2, rows=g.MAC_INPUTS, cols=g.MAC_OUTPUTS, seed=1, run0=0, run_stride=1,
                 out=self.out64, bad=self.bad)
        a.update(kw)
        return lib.bss2_mac_product(*a.values())


def test_valid_arguments_run():
    args = Args()
    assert args.run() == 0
    assert args.product() == 0
    assert args.run(batch=0) == 0 and args.product(batch=0) == 0


@pytest.mark.parametrize("field, value", [
    ("n_hemi", 2**26 + 1),     # with n_col 64: 2^32 + 64 wraps to 64 in 32 bits
    ("n_hemi", 2**31 - 1), ("n_hemi", 0), ("n_hemi", -2),
    ("n_col", 63), ("n_col", 0), ("n_col", -64), ("n_col", 2**31 - 64),
    ("n_in", 2**31 - 1), ("n_in", g.MAC_INPUTS * 32 + 1), ("n_in", 0), ("n_in", -1),
])
def test_bad_geometry_is_refused(field, value):
    args = Args()
    if field == "n_hemi":
        args.p.n_col = 64
    setattr(args.p, field, value)
    assert args.run() == -1
    assert args.product() == -1


@pytest.mark.parametrize("field", ["live", "knee_pos", "knee_neg", "rail_pos", "rail_neg", "sigma_read",
                                   "sigma_base", "adc_frac", "cadc_slope", "adc_int", "code_map"])
def test_null_arrays_in_the_parameters_are_refused(field):
    args = Args()
    setattr(args.p, field, ffi.NULL)
    assert args.run() == -1
    assert args.product() == -1


@pytest.mark.parametrize("name", ["p", "weights", "pulses", "scale", "x", "out", "bad"])
def test_null_arguments_are_refused(name):
    args = Args()
    assert args.run(**{name: ffi.NULL}) == -1
    assert args.product(**{name: ffi.NULL}) == -1


@pytest.mark.parametrize("kw", [dict(batch=-1), dict(batch=2**40 + 1), dict(sample0=-1), dict(sample0=2**40 + 1),
                                dict(batch=2**62), dict(batch=-(2**63))])
def test_bad_sizes_of_a_run_are_refused(kw):
    assert Args().run(**kw) == -1


@pytest.mark.parametrize("kw", [dict(rows=0), dict(cols=0), dict(rows=-5), dict(cols=2**40 + 1),
                                dict(batch=2**30, rows=2**30),       # batch * rows beyond 2^54
                                dict(batch=2**30, cols=2**31),       # batch * cols beyond 2^60
                                dict(batch=2**40, rows=2**40),       # their product wraps int64
                                dict(n_blocks=2), dict(n_blocks=0), dict(n_blocks=-1),
                                dict(rows=g.MAC_INPUTS + 1)])        # two row blocks, one pointer
def test_bad_sizes_of_a_product_are_refused(kw):
    assert Args().product(**kw) == -1


def test_a_null_weight_block_is_refused():
    args = Args()
    assert args.product(weights=ffi.new("float *[]", [ffi.NULL])) == -1
    two = ffi.new("float *[]", [args.weights, ffi.NULL])
    assert args.product(weights=two, n_blocks=2, cols=g.MAC_OUTPUTS + 1) == -1


def test_bad_arguments_of_the_array_helpers_are_refused():
    first = ffi.new("int64_t[3]")
    src = np.zeros(4, np.int64)
    dst = np.zeros(4, np.uint8)
    ok = dict(src=ffi.from_buffer(src), kind=lib.HIL_KIND_SIGNED, itemsize=8, n=4, lo=0, hi=31,
              dst=ffi.from_buffer("uint8_t[]", dst), first=first)
    assert lib.hil_narrow8(*ok.values()) == 0
    for bad in (dict(src=ffi.NULL), dict(dst=ffi.NULL), dict(first=ffi.NULL), dict(n=-1), dict(lo=5, hi=4),
                dict(lo=-129), dict(hi=256), dict(itemsize=3), dict(kind=7), dict(kind=lib.HIL_KIND_FLOAT, itemsize=2)):
        assert lib.hil_narrow8(*dict(ok, **bad).values()) == -1, bad
    assert lib.hil_equal2d(ffi.NULL, 0, ffi.NULL, 0, 1, 1) == 0
    assert lib.hil_hash2d(ffi.NULL, 1, 1, 1) == 0


# -- results independent of the caller's floating-point environment ---------------------------

FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO = 0, 0x800, 0x400, 0xC00
"""x86-64 glibc's values (fenv.h)."""

libm = ctypes.CDLL(None)  # the process's global namespace: glibc's fesetround / fegetround


@pytest.mark.skipif(not hasattr(libm, "fesetround") or platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="needs x86-64 glibc's fesetround")
@pytest.mark.parametrize("mode", [FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO])
def test_results_do_not_depend_on_the_callers_rounding_mode(mode):
    """Tables are built in the default mode (numpy); then, with the caller's mode set
    to `mode`, 1-thread and 2-thread runs equal the default-mode results, and the
    caller gets its mode back."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 32, (500, g.MAC_INPUTS)).astype(np.uint8)
    xp, W = rng.integers(0, 32, (300, 200)).astype(np.uint8), rng.integers(-63, 64, (200, 700)).astype(np.int8)

    def outputs(threads, rounding):
        lib.bss2_set_threads(threads)
        chip, _ = configured_twins("EMU-0202", 3)
        for n in (1, 7):
            chip._readout.scale_table(chip.pattern, n, 5)           # built now, in the default mode
        prebuilt = VirtualChip("EMU-0202")
        prebuilt.mac_product(xp[:1], W, 7)                          # its tables built now, in the default mode
        normals = np.empty(4096)
        assert libm.fesetround(rounding) == 0
        try:
            runs = [chip.run_mac(x), chip.run_mac(x, 7), prebuilt.mac_product(xp, W, 7)]
            lib.bss2_normal_fill(12345, 0, normals.size, ffi.from_buffer("double[]", normals))
            assert libm.fegetround() == rounding                    # the caller's mode is given back
        finally:
            libm.fesetround(FE_TONEAREST)
        return runs + [normals]

    default = outputs(1, FE_TONEAREST)
    for threads in (1, 2):
        got = outputs(threads, mode)
        assert all(np.array_equal(a, b) for a, b in zip(got, default)), threads


# -- the code-path level is read and written atomically ---------------------------------------

def test_changing_the_code_path_while_runs_go_on():
    """Threads switch the level while others run: every level gives the same results,
    so the runs must equal a quiet run (and, under the sanitizers, stay clean)."""
    chip, twin = configured_twins("EMU-0203", 4)
    x = np.random.default_rng(4).integers(0, 32, (300, g.MAC_INPUTS)).astype(np.uint8)
    expected = [twin.run_mac(x) for _ in range(20)]
    stop = threading.Event()

    def switch():
        k = 0
        while not stop.is_set():
            lib.bss2_set_isa((4, 3, 0)[k % 3])
            assert lib.bss2_isa() in (0, 3, 4)
            k += 1

    switcher = threading.Thread(target=switch, daemon=True)
    switcher.start()
    try:
        got = [chip.run_mac(x) for _ in range(20)]
    finally:
        stop.set()
        switcher.join(timeout=10)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
