"""The virtual tile's C core against its numpy definition (emulator/crossbar/reference.py), bit for bit, on
every code path; its identity, its run counter and its refusals."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emulator._native import lib
from emulator.crossbar import VirtualTile, converters, pulses, reference as ref
from emulator.crossbar.tile import BACKWARD, keys
from emulator.errors import InvalidInput
from hil.crossbar import DeviceConfig, IOConfig, UpdateConfig

ROWS, COLS, BATCH = 37, 21, 9
IO_CASES = [
    IOConfig(),
    IOConfig(inp_noise=0.02, w_noise=0.01, inp_sto_round=True, out_sto_round=True),
    IOConfig(noise_management="max", out_bound=0.5),
    IOConfig(noise_management="none", bound_management="none", inp_res=0, out_res=0),
    IOConfig(out_bound=0.3, max_bm_factor=4),                  # saturates: the bound management's rounds
    IOConfig(out_bound=0.2, bm_test_negative_bound=False, out_noise=0.0),
    IOConfig(is_perfect=True, out_scale=2.0),
    IOConfig(noise_management="constant", nm_thres=3.0, out_scale=0.5),
    IOConfig(noise_management="abs_max", nm_thres=0.5, inp_res=1 / 254, out_res=1 / 1022),
]
UPDATE_CASES = [
    UpdateConfig(),
    UpdateConfig(update_management=False, update_bl_management=False, desired_bl=10),
    UpdateConfig(res=0.01, sto_round=True),
    UpdateConfig(fixed_bl=False, update_bl_management=False),
]


def _tile(ideal: bool) -> VirtualTile:
    t = VirtualTile("EMU-XB-0003", shape=(ROWS, COLS), ideal=ideal)
    w = np.random.default_rng(1).uniform(-0.5, 0.5, (ROWS, COLS)).astype(np.float32)
    t.configure(w, DeviceConfig())
    return t


@pytest.fixture(params=[4, 3, 0], ids=["avx512", "avx2", "baseline"])
def isa(request):
    before = lib.bss2_isa()
    level = lib.bss2_set_isa(request.param)
    if level != request.param:
        lib.bss2_set_isa(before)
        pytest.skip(f"this CPU runs code path {level}, not {request.param}")
    yield level
    lib.bss2_set_isa(before)


@pytest.mark.parametrize("ideal", [False, True], ids=["mismatched", "ideal"])
@pytest.mark.parametrize("case", range(len(IO_CASES)))
def test_forward_and_backward_equal_the_reference(isa, ideal, case):
    io = IO_CASES[case]
    t = _tile(ideal)
    rng = np.random.default_rng(case)
    x = rng.normal(0, 1, (BATCH, COLS)).astype(np.float32)
    x[2] = 0                                            # the noise management's zero vector
    run = t.run_counter
    y, rounds = t.forward(x, io)
    want, want_rounds = ref.mvm(t.weights.T.copy(), x, io, keys(t.seed, run), bound_management=True, perfect=ideal)
    assert np.array_equal(y, want)
    assert np.array_equal(rounds, want_rounds)
    d = rng.normal(0, 1, (BATCH, ROWS)).astype(np.float32)
    run = t.run_counter
    yb, rb = t.backward(d, io)
    want, _ = ref.mvm(t.weights.copy(), d, io, keys(t.seed, run, BACKWARD), bound_management=False, perfect=ideal)
    assert np.array_equal(yb, want)
    assert not rb.any()                                 # no bound management backward


def test_the_bound_management_runs_rounds_where_the_adc_saturates():
    t = _tile(False)
    x = np.random.default_rng(3).normal(0, 1, (BATCH, COLS)).astype(np.float32)
    _, rounds = t.forward(x, IO_CASES[4])
    last = converters.bm_last_round(4, 0.25, float(converters.step(1.0, 63)))
    assert last == 3 and rounds.max() >= 1 and rounds.max() <= last


@pytest.mark.parametrize("ideal", [False, True], ids=["mismatched", "ideal"])
@pytest.mark.parametrize("case", range(len(UPDATE_CASES)))
@pytest.mark.parametrize("lr", [0.01, 0.05])
def test_the_update_equals_the_reference(isa, ideal, case, lr):
    up = UPDATE_CASES[case]
    t = _tile(ideal)
    rng = np.random.default_rng(10 + case)
    x = rng.normal(0, 1, (BATCH, COLS)).astype(np.float32)
    d = rng.normal(0, 1, (BATCH, ROWS)).astype(np.float32)
    x[1, 3] = 0
    w0, run = t.weights.copy(), t.run_counter
    bl, fired = t.update(x, d, lr, up)
    w, want_bl, want_fired = ref.update(w0, t.devices, x, d, lr, up, keys(t.seed, run), ideal=ideal)
    assert np.array_equal(bl, want_bl)
    assert np.array_equal(fired, want_fired)
    assert np.array_equal(t.weights, w)
    assert ideal or (fired > 0).all()


def test_the_update_management_scales_as_written():
    up = UpdateConfig()
    bl, a, b = pulses.scales(0.01, 2.0, 0.5, 0.001, up)
    k = 0.01 * 2.0 * 0.5 / 0.001                           # 10 expected coincidences at the maxima
    assert bl == 10
    assert a * 0.5 == pytest.approx(np.sqrt(k / bl), rel=1e-6) and b * 2.0 == pytest.approx(1.0, rel=1e-6)
    assert pulses.scales(0.01, 0.0, 0.5, 0.001, up)[0] == 0


def test_same_serial_same_tile_and_the_run_counter_keys_the_noise():
    a, b = _tile(False), _tile(False)
    x = np.random.default_rng(5).normal(0, 1, (4, COLS)).astype(np.float32)
    ya, _ = a.forward(x, IOConfig())
    yb, _ = b.forward(x, IOConfig())
    assert np.array_equal(ya, yb)
    assert not np.array_equal(a.forward(x, IOConfig())[0], ya)        # the next run draws new noise
    c = VirtualTile("EMU-XB-0004", shape=(ROWS, COLS))
    c.configure(a.weights, DeviceConfig())
    assert not np.array_equal(c.devices.scale_up, a.devices.scale_up)   # another tile, other devices


def test_results_do_not_depend_on_the_thread_count():
    out = []
    for threads in (1, 2):
        lib.bss2_set_threads(threads)
        t = _tile(False)
        x = np.random.default_rng(7).normal(0, 1, (70, COLS)).astype(np.float32)
        d = np.random.default_rng(8).normal(0, 1, (70, ROWS)).astype(np.float32)
        y, _ = t.forward(x, IOConfig())
        t.update(x, d, 0.01, UpdateConfig())
        out.append((y, t.weights))
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])


def test_a_vector_does_not_depend_on_the_batch_it_is_in():
    t = _tile(False)
    x = np.random.default_rng(6).normal(0, 1, (40, COLS)).astype(np.float32)
    run = t.run_counter
    full, _ = t.forward(x, IOConfig(inp_noise=0.01))
    t.run_counter = run
    part, _ = t.forward(x[:17], IOConfig(inp_noise=0.01))
    assert np.array_equal(full[:17], part)


def test_the_core_refuses_what_it_cannot_run():
    t = _tile(False)
    with pytest.raises(InvalidInput, match=r"x\[1, 2\]"):
        x = np.zeros((3, COLS), np.float32)
        x[1, 2] = np.inf
        t.forward(x, IOConfig())
    w = t.weights.copy()
    with pytest.raises(InvalidInput, match=r"d\[0, 4\]"):
        d = np.zeros((2, ROWS), np.float32)
        d[0, 4] = np.nan
        t.update(np.ones((2, COLS), np.float32), d, 0.01, UpdateConfig())
    assert np.array_equal(t.weights, w)                   # nothing changed
    with pytest.raises(InvalidInput, match="learning_rate"):
        t.update(np.ones((1, COLS), np.float32), np.ones((1, ROWS), np.float32), 0.5,
                 UpdateConfig(fixed_bl=False, update_bl_management=False))
    with pytest.raises(InvalidInput, match="shape"):
        VirtualTile(shape=(0, 4))


_FUZZ_TILE = VirtualTile("EMU-XB-FUZZ", shape=(24, 10))
_FUZZ_TILE.configure(np.random.default_rng(0).uniform(-0.5, 0.5, (24, 10)).astype(np.float32), DeviceConfig())
_SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 3e-39, 1e6]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(batch=st.integers(0, 40), spoil=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(_SPECIALS)),
                                                max_size=3),
       io=st.sampled_from(IO_CASES), up=st.sampled_from(UPDATE_CASES), lr=st.sampled_from([1e-4, 0.01, 0.05, 2.0]),
       seed=st.integers(0, 2**32 - 1))
def test_the_core_refuses_or_runs_whatever_it_is_given(batch, spoil, io, up, lr, seed):
    """The C core's own checks (the one pass that reads each input), without the types in front of it: a
    NaN or an infinity is refused with its index and changes nothing, anything else runs to finite outputs
    and weights within the devices' bounds; nothing crashes (tox -e sanitize runs this on the ASan + UBSan
    build)."""
    t = _FUZZ_TILE
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (batch, 10)).astype(np.float32)
    d = rng.normal(0, 2, (batch, 24)).astype(np.float32)
    for k, v in spoil:
        if batch:
            (x if k % 2 else d).flat[k % (x.size if k % 2 else d.size)] = v
    bad = batch and not (np.isfinite(x).all() and np.isfinite(d).all())
    try:
        y, rounds = t.forward(x, io)
    except InvalidInput as e:
        assert not np.isfinite(x).all() and e.field.startswith("x[")
    else:
        assert y.shape == (batch, 24) and np.isfinite(y).all() and (rounds >= 0).all()
    w = t.weights.copy()
    try:
        t.update(x, d, lr, up)
    except InvalidInput as e:
        assert (bad and e.field[:2] in ("x[", "d[")) or e.field == "learning_rate"
        assert np.array_equal(t.weights, w)
    else:
        assert not bad
        assert (t.weights <= t.devices.w_max).all() and (t.weights >= t.devices.w_min).all()
