"""A short, bounded fuzz of the emulator's entry points (hypothesis): the C calls
behind VirtualChip and hil.contract.validation, with arguments both valid and not.

Each property is the exact expectation (a refusal, or the numpy answer); under
``tox -e sanitize`` the same examples also run on the ASan + UBSan build, where any
read past a buffer or any undefined arithmetic stops the run. The examples are
derandomized (the same ones every run) and bounded in number, so the fuzz is as
quick and as repeatable as the other tests.
"""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from emulator._native import ffi, lib
from emulator.bss2 import Faults, VirtualChip
from emulator.bss2 import geometry as g
from emulator.errors import InvalidInput

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

INT64 = st.integers(-(2**63), 2**63 - 1)

DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
KINDS = {"i": lib.HIL_KIND_SIGNED, "u": lib.HIL_KIND_UNSIGNED, "f": lib.HIL_KIND_FLOAT}


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    n = draw(st.integers(0, 9000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "f":
        a = rng.integers(-70, 100, n).astype(dtype)
        specials = [np.nan, np.inf, -np.inf, 0.5, -0.0, 1e30, 31.999, 2.0**40]
    else:
        info = np.iinfo(dtype)
        a = rng.integers(max(info.min, -70), min(info.max, 100) + 1, n).astype(dtype)
        specials = [info.min, info.max, 0]
    for _ in range(draw(st.integers(0, 3)) if n else 0):
        a[draw(st.integers(0, n - 1))] = draw(st.sampled_from(specials))
    return a


def numpy_faults(a, lo, hi):
    """What hil_narrow8 must report, computed in numpy: its fault bits and first indices."""
    wide = a.astype(np.float64) if a.dtype.kind == "f" else None
    first = [-1, -1, -1]
    bits = 0
    if wide is not None:
        masks = [~np.isfinite(wide), np.isfinite(wide) & (wide != np.floor(wide)),
                 np.isfinite(wide) & ((wide < lo) | (wide > hi))]
    else:
        big = a.astype(object) if a.dtype == np.uint64 else a.astype(np.int64)
        masks = [np.zeros(a.shape, bool), np.zeros(a.shape, bool), (big < lo) | (big > hi)]
    for k, m in enumerate(masks):
        idx = np.flatnonzero(m)
        if idx.size:
            first[k], bits = int(idx[0]), bits | (1 << k)
    return bits, first


@FUZZ
@given(arrays(), st.sampled_from([(0, 31), (-63, 63), (0, 255), (-128, 127), (5, 5)]))
def test_narrow8_agrees_with_numpy(a, bounds):
    lo, hi = bounds
    dst = np.full(a.size, 0xAA, np.uint8)
    first = ffi.new("int64_t[3]")
    got = lib.hil_narrow8(ffi.from_buffer(a), KINDS[a.dtype.kind], a.dtype.itemsize, a.size, lo, hi,
                          ffi.from_buffer("uint8_t[]", dst), first)
    bits, want = numpy_faults(a, lo, hi)
    if a.dtype.kind != "f" and bits:  # integers stop at their first fault: only the range is reported
        want = [-1, -1, want[2]]
    assert got == bits
    if bits:
        assert list(first) == want
    else:
        assert np.array_equal(dst, a.astype(np.int64).astype(np.uint8))


@FUZZ
@given(st.integers(1, 40), st.integers(1, 300), st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_hash_and_compare_of_2d_regions(rows, row_bytes, pad, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (rows, row_bytes + pad), np.uint8)
    b = a[:, :row_bytes].copy()
    pa, pb = ffi.from_buffer("uint8_t[]", a), ffi.from_buffer("uint8_t[]", b)
    assert lib.hil_equal2d(pa, row_bytes + pad, pb, row_bytes, rows, row_bytes) == 1
    assert lib.hil_hash2d(pa, rows, row_bytes, row_bytes + pad) == lib.hil_hash2d(pb, rows, row_bytes, row_bytes)
    r, c = int(rng.integers(0, rows)), int(rng.integers(0, row_bytes))
    b[r, c] ^= 1 << int(rng.integers(0, 8))
    assert lib.hil_equal2d(pa, row_bytes + pad, pb, row_bytes, rows, row_bytes) == 0


CHIP = VirtualChip("EMU-0300", faults=Faults(dead_neurons=(7,), missing_codes=(129,)))


@FUZZ
@given(st.integers(1, 60), st.integers(1, 300), st.integers(1, 1100), st.integers(1, 40),
       st.integers(0, 4095), st.integers(0, 2**32 - 1), st.booleans())
def test_product_on_random_shapes_and_values(batch, rows, cols, num_sends, wait, seed, spoil):
    """Valid operands give outputs in -128..127 of the right shape and use up one run per
    block; an activation above 31 is refused at its first index, with its value."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 32, (batch, rows)).astype(np.uint8)
    W = rng.integers(-63, 64, (rows, cols)).astype(np.int8)
    runs = CHIP.run_counter
    blocks = -(-rows // g.MAC_INPUTS) * -(-cols // g.MAC_OUTPUTS)
    if spoil:
        b, i = int(rng.integers(0, batch)), int(rng.integers(0, rows))
        x[b, i] = int(rng.integers(32, 256))
        try:
            CHIP.mac_product(x, W, num_sends, wait)
        except InvalidInput as exc:
            assert exc.field == f"x[{b}, {i}]" and exc.problem.startswith(f"{x[b, i]} is outside")
        else:
            raise AssertionError("an activation above 31 was not refused")
    else:
        out = CHIP.mac_product(x, W, num_sends, wait)
        assert out.shape == (batch, cols) and out.min() >= -128 and out.max() <= 127
    assert CHIP.run_counter == runs + blocks


@FUZZ
@given(st.sampled_from(["n_in", "n_hemi", "n_col"]), st.integers(-(2**31), 2**31 - 1),
       INT64, INT64, st.booleans())
def test_run_refuses_every_geometry_it_cannot_hold(field, value, batch, sample0, product):
    """Geometry and sizes drawn at random: the core runs only what fits the buffers it
    was given (here: one 128 x 512 chip, 2 samples), and refuses everything else with -1,
    never touching memory beyond them."""
    chip = VirtualChip("EMU-0301")
    chip.configure_mac(np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8))
    src = chip._readout.struct
    p = ffi.new("bss2_mac *", {f: getattr(src, f) for f in (
        "n_in", "n_hemi", "n_col", "compress", "live", "knee_pos", "knee_neg", "rail_pos", "rail_neg",
        "sigma_read", "sigma_base", "adc_frac", "cadc_slope", "adc_int", "code_map")})
    fits = {"n_in": (1, g.MAC_INPUTS), "n_hemi": (1, g.HEMISPHERES), "n_col": (64, g.COLUMNS_PER_HEMISPHERE)}
    lo, hi = fits[field]
    if lo <= value <= hi and (field != "n_col" or value % 64 == 0):
        value = {"n_in": 2**31 - 1, "n_hemi": 2**26 + 1, "n_col": 2**31 - 64}[field]  # keep it unfit
    setattr(p, field, value)
    if field == "n_hemi":
        p.n_col = 64
    weights = ffi.from_buffer("float[]", chip._weights)
    pulses = ffi.from_buffer("float[]", chip._pulses)
    scale = ffi.from_buffer("double[]", chip._readout.scale_table(chip.pattern, 1, 5))
    x = ffi.from_buffer("uint8_t[]", np.zeros((2, g.MAC_INPUTS), np.uint8))
    out = np.zeros((2, g.MAC_OUTPUTS), np.int64)
    bad = ffi.new("int64_t[2]")
    if product:
        blocks = ffi.new("float *[]", [weights])
        status = lib.bss2_mac_product(p, blocks, 1, pulses, scale, x, batch % 3, g.MAC_INPUTS,
                                      g.MAC_OUTPUTS, 1, 0, 1, ffi.from_buffer("int64_t[]", out), bad)
    else:
        status = lib.bss2_mac_run(p, weights, pulses, scale, x, batch % 3, sample0 % 2**40, 1,
                                  ffi.from_buffer("int8_t[]", out), bad)
    assert status == -1
    # the geometry right, the sizes random: refused unless within the stated bounds (a
    # size within them but beyond these buffers would be the caller's error: not drawn)
    setattr(p, field, getattr(src, field))
    p.n_col = src.n_col
    if 2 < batch <= 2**40:
        batch %= 3
    status = lib.bss2_mac_run(p, weights, pulses, scale, x, batch, sample0, 1,
                              ffi.from_buffer("int8_t[]", out), bad)
    assert status == (0 if 0 <= batch <= 2 and 0 <= sample0 <= 2**40 else -1)


# -- the spiking run (bss2/lif.c) --------------------------------------------------------------

_SPIKING_CHIP = []


def _spiking_core():
    """One configured chip's C description (made on first use: the configuration costs some ms)."""
    if not _SPIKING_CHIP:
        from emulator.bss2 import lif  # noqa: F401 - the module under test
        from hil.bss2 import SpikingConfig

        chip = VirtualChip("EMU-0009", faults=Faults(dead_neurons=(4,)))
        rng = np.random.default_rng(3)
        cfg = SpikingConfig(weights=rng.integers(0, 64, (2, 256, 256)), labels=rng.integers(0, 2, (2, 256, 256)),
                            row_mode=rng.integers(0, 3, (2, 256)), stp_enable=rng.integers(0, 2, (2, 128)),
                            stp_utilization=rng.integers(0, 1023, (2, 128)), driver_mask=np.zeros((2, 128)))
        chip.configure_spiking(**cfg.arrays())
        _SPIKING_CHIP.append(chip._spiking_core(100))
    return _SPIKING_CHIP[0]


def _expected_refusal(duration, n_trials, trial0, cadc_period, madc_neuron, times, trials):
    """The field the core must refuse first (its order of checks), or None."""
    if not 1 <= duration <= g.SPIKING_DURATION_MAX:
        return "duration"
    if not 1 <= n_trials <= g.TRIALS_MAX:
        return "n_trials"
    if not 0 <= trial0 <= g.TRIALS_MAX - n_trials:
        return "trial0"
    if cadc_period != 0 and not g.CADC_PERIOD_MIN <= cadc_period <= g.CADC_PERIOD_MAX:
        return "cadc_period"
    if not -1 <= madc_neuron < g.NEURONS:
        return "madc_neuron"
    if -(-8 * duration // 100) * n_trials > g.STEPS_TIMES_TRIALS_MAX:
        return "step_ns"
    prev = (0, 0)
    for i, (t, tr) in enumerate(zip(times.tolist(), trials.tolist())):
        if not 0 <= t < duration:
            return f"times[{i}]"
        if tr >= n_trials:
            return f"trials[{i}]"
        if (tr, t) < prev:
            return f"times[{i}]"
        prev = (tr, t)
    return None


@FUZZ
@given(st.one_of(st.integers(-3, 2500), st.sampled_from([0, 1_250_000, 1_250_001, -(2**40)])),
       st.one_of(st.integers(-1, 4), st.sampled_from([1024, 1025, 2**33])), st.sampled_from([0, 0, 1, -1, 1022, 2**40]),
       st.sampled_from([0, 230, 213, 212, 65535, 65536]), st.sampled_from([-1, 0, 300, 511, 512, -2]),
       st.integers(0, 80), st.sampled_from(["none", "late", "early", "trial", "order"]), st.integers(0, 2**32 - 1))
def test_spiking_run_refuses_exactly_what_it_must(duration, n_trials, trial0, cadc_period, madc_neuron, n_events,
                                                  spoil, seed):
    from hypothesis import assume

    from emulator.bss2 import lif

    # a valid run of 10^5 steps per trial would only be slow, not new
    assume(not (duration == 1_250_000 and 1 <= n_trials <= 41))
    rng = np.random.default_rng(seed)
    span, count = max(duration, 1), max(min(n_trials, 4), 1)
    trials = np.sort(rng.integers(0, count, n_events)).astype(np.uint16)
    times = np.concatenate([np.sort(rng.integers(0, min(span, 2**20), int((trials == t).sum())))
                            for t in range(count)]).astype(np.int64)
    if n_events:
        i = int(rng.integers(0, n_events))
        if spoil == "late":
            times[i] = span
        elif spoil == "early":
            times[i] = -1
        elif spoil == "trial":
            trials[i] = count
        elif spoil == "order" and n_events > 1:
            times[i], trials[i] = times[-1] + 1, trials[-1]
            times[-1] = 0
    labels = rng.integers(0, 2**16, n_events).astype(np.uint16)
    want = _expected_refusal(duration, n_trials, trial0, cadc_period, madc_neuron, times, trials)
    kw = dict(n_trials=n_trials, duration=duration, record_cadc=cadc_period != 0, cadc_period=cadc_period or 230,
              madc_neuron=madc_neuron, key_membrane=seed, key_madc=seed + 1, trial0=trial0)
    if want is None:
        out = lif.run(_spiking_core(), times, labels, trials, **kw)
        assert out["cadc"].shape == (n_trials, -(-duration // cadc_period) if cadc_period else 0, g.NEURONS)
        assert out["madc"].shape == (n_trials, -(-8 * duration // 34) if madc_neuron >= 0 else 0)
        assert np.all(np.diff(out["spike_trials"].astype(np.int64) * 2**21 + out["spike_times"]) >= 0)
    else:
        try:
            lif.run(_spiking_core(), times, labels, trials, **kw)
        except InvalidInput as exc:
            assert exc.field == want, (exc, want)
        else:
            raise AssertionError(f"not refused: {want}")
