"""The C core of the MAC mode (emulator/_native, bss2/mac.c) against its numpy
reference (emulator.bss2.reference) and the analytical model.

No timing here: the speed is measured by bench/mac.py.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from emulator._native import ffi, lib
from emulator.bss2 import Faults, StuckBit, VirtualChip, reference
from emulator.bss2 import geometry as g
from emulator.bss2.fixed_pattern import NOMINAL_GAIN
from emulator.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[3]
ISA_LEVELS = sorted({lib.bss2_set_isa(level) for level in (4, 3, 0)} | {0}, reverse=True)
lib.bss2_set_isa(4)


def random_weights(rng, lo=-g.SIGNED_WEIGHT_MAX, hi=g.SIGNED_WEIGHT_MAX):
    return rng.integers(lo, hi + 1, (g.MAC_INPUTS, g.MAC_OUTPUTS)).astype(np.int8)


def random_inputs(rng, batch, lo=0, hi=g.ACTIVATION_MAX, density=1.0):
    x = rng.integers(lo, hi + 1, (batch, g.MAC_INPUTS)).astype(np.uint8)
    if density < 1.0:
        x[rng.random(x.shape) > density] = 0
    return x


def normals(key, counter0, n):
    out = np.empty(n)
    lib.bss2_normal_fill(key, counter0, n, ffi.from_buffer("double[]", out))
    return out


# -- C core vs the numpy reference ------------------------------------------------------------

FAULTY = Faults(dead_neurons=(3, 300), noisy_neurons=((5, 2.0), (400, 0.5)),
                missing_codes=(120, 130, 131), stuck_bits=(StuckBit(0, 10, 7, 5, 1), StuckBit(1, 3, 200, 0, 0)))


@pytest.mark.parametrize("serial, faults", [("EMU-0001", Faults()), ("EMU-0042", FAULTY)])
@pytest.mark.parametrize("num_sends, wait, strong", [(1, 5, False), (3, 0, False), (40, 200, False),
                                                     (1, 5, True)])
def test_c_core_matches_reference(serial, faults, num_sends, wait, strong):
    rng = np.random.default_rng([7, num_sends, wait, strong])
    chip = VirtualChip(serial, faults=faults)
    if strong:  # drives most neurons beyond their knees: exercises the compression
        chip.configure_mac(random_weights(rng, 20, 63))
        x = random_inputs(rng, 700, 20, 31)
    else:
        chip.configure_mac(random_weights(rng))
        x = random_inputs(rng, 700, density=0.7)
    run = chip.run_counter
    expected = reference.run_mac(chip, x, num_sends, wait, run=run)
    got = chip.run_mac(x, num_sends, wait)
    diff = got.astype(np.int16) - expected
    assert np.mean(diff == 0) >= 0.999, f"only {np.mean(diff == 0):.5f} identical"
    assert np.abs(diff).max() <= 1
    # the outputs are not trivial: noise, spread and (for strong inputs) the rails
    assert got.std() > 1.5
    if strong:
        assert (got.astype(int) > 100).mean() > 0.5


def test_reference_pieces_match_c():
    key = lib.bss2_stream_key(0x1234_5678_9ABC_DEF0, 17, 0)
    assert key == reference.stream_key(0x1234_5678_9ABC_DEF0, 17, 0)
    u = np.empty(10_001, np.uint32)
    lib.bss2_uniform_fill(key, 2**33 - 5000, u.size, ffi.from_buffer("uint32_t[]", u))
    assert np.array_equal(u, reference.uniform_bits(key, np.arange(2**33 - 5000, 2**33 + 5001)))
    n = normals(key, 123, 20_000)
    assert np.array_equal(n.astype(np.float32), reference.normals(key, np.arange(123, 20_123)))
    assert np.array_equal(n.astype(np.float32).astype(np.float64), n)  # float32 values
    c = np.empty(160, np.float32)
    lib.bss2_normal_coefficients(ffi.from_buffer("float[]", c))
    assert np.array_equal(c.reshape(5, 32), reference.NORMAL_COEFFICIENTS)


def test_readout_noise_uses_the_documented_counters():
    """One 64-bit draw per (sample, neuron) at counter sample * 512 + neuron: the
    membrane read takes word 2c, the baseline read word 2c + 1; with zero weights
    the output is floor(f + s * sr * N1) - floor(f + s * sb * N2)."""
    chip = VirtualChip("EMU-0009")
    chip.configure_mac(np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8))
    chip.run_mac(np.zeros((3, g.MAC_INPUTS), np.uint8))  # run 0
    out = chip.run_mac(np.zeros((40, g.MAC_INPUTS), np.uint8))  # run 1
    key = lib.bss2_stream_key(chip.seed, 1, reference.STREAM_MAC_READOUT)
    prm = reference.readout_parameters(chip)
    words = normals(key, 0, 2 * 40 * 512).astype(np.float32).reshape(40, 512, 2)
    n1, n2 = words[..., 0], words[..., 1]
    fr, sl = prm["adc_frac"], prm["cadc_slope"]
    v = (np.zeros((40, 512), np.float32) + prm["sigma_read"] * n1)
    code = prm["adc_int"] + np.floor(fr + sl * v).astype(int)
    base = prm["adc_int"] + np.floor(fr + sl * (prm["sigma_base"] * n2)).astype(int)
    assert np.array_equal(out, np.clip(code - base, -128, 127))


# -- exactness of the ideal chip ------------------------------------------------------------------

def ideal_model(weights, x, num_sends):
    acc = x.astype(np.float64) @ weights.astype(np.float64)        # exact integers
    return np.clip(np.floor((NOMINAL_GAIN * num_sends) * acc), -128, 127).astype(np.int8)


@pytest.mark.parametrize("isa", ISA_LEVELS)
def test_ideal_chip_equals_the_analytical_model(isa):
    lib.bss2_set_isa(isa)
    rng = np.random.default_rng(2024 + isa)
    chip = VirtualChip(ideal=True)
    for num_sends in range(1, 21):
        w = random_weights(rng)
        chip.configure_mac(w)
        x = random_inputs(rng, 150, density=rng.uniform(0.05, 1.0))
        wait = int(rng.integers(0, g.WAIT_BETWEEN_EVENTS_MAX + 1))
        assert np.array_equal(chip.run_mac(x, num_sends, wait), ideal_model(w, x, num_sends)), num_sends


def test_ideal_chip_exact_at_floor_boundaries():
    """Every product a * w of one active input (and sums of two) for num_sends 1..20,
    many of which land on or next to an integer after scaling."""
    chip = VirtualChip(ideal=True)
    w = np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
    w[0] = np.resize(np.arange(-63, 64), g.MAC_OUTPUTS)
    w[1] = np.resize(np.arange(63, -64, -1), g.MAC_OUTPUTS)[::-1]
    w[2] = np.resize(np.arange(-63, 64)[::3], g.MAC_OUTPUTS)
    chip.configure_mac(w)
    x = np.zeros((31 * 3, g.MAC_INPUTS), np.uint8)
    a = np.arange(1, 32)
    x[:31, 0] = a
    x[31:62, 0] = a
    x[31:62, 1] = a[::-1]
    x[62:, 0] = a
    x[62:, 2] = 31
    for num_sends in range(1, 21):
        assert np.array_equal(chip.run_mac(x, num_sends), ideal_model(w, x, num_sends)), num_sends
    # the reference's exact path agrees too
    assert np.array_equal(reference.run_mac(chip, x, 7), ideal_model(w, x, 7))


# -- independence of threads, batch splits and code paths -----------------------------------------

def runs_of(serial, thread_count=None):
    """The outputs of a fixed sequence of runs (different batch sizes, num_sends)."""
    if thread_count is not None:
        lib.bss2_set_threads(thread_count)
    rng = np.random.default_rng(99)
    chip = VirtualChip(serial)
    chip.configure_mac(random_weights(rng))
    outs = []
    for batch, num_sends in ((1, 1), (47, 2), (300, 1), (1000, 5)):
        outs.append(chip.run_mac(random_inputs(rng, batch), num_sends))
    return np.concatenate(outs)


def test_thread_count_does_not_change_results_in_process():
    ref = runs_of("EMU-0005", 1)
    for threads in (2, 3, 4):
        assert np.array_equal(runs_of("EMU-0005", threads), ref), threads


def test_thread_count_does_not_change_results_across_processes(tmp_path):
    """OMP_NUM_THREADS=1 and =2 in fresh processes, against this process."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
        import numpy as np
        from emulator._native import lib
        from test_mac import runs_of
        assert lib.bss2_threads() == int(sys.argv[2]), lib.bss2_threads()
        np.save(sys.argv[1], runs_of("EMU-0005"))
    """)
    here = runs_of("EMU-0005")
    for threads in ("1", "2"):
        path = tmp_path / f"out{threads}.npy"
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        subprocess.run([sys.executable, "-c", script, str(path), threads], env=env, check=True,
                       cwd=tmp_path, timeout=300)
        assert np.array_equal(np.load(path), here), threads


@pytest.mark.parametrize("isa", ISA_LEVELS)
def test_code_paths_give_identical_results(isa):
    lib.bss2_set_isa(isa)
    out = runs_of("EMU-0006")
    lib.bss2_set_isa(0)
    assert np.array_equal(out, runs_of("EMU-0006"))


@pytest.mark.parametrize("isa", ISA_LEVELS)
def test_code_paths_agree_with_faults_and_compression(isa):
    """Dead neurons, a noisy neuron, missing codes (the code-map lookup) and inputs
    strong enough to drive most neurons beyond their knees (the compression)."""
    def outputs():
        rng = np.random.default_rng(8)
        chip = VirtualChip("EMU-0042", faults=FAULTY)
        chip.configure_mac(random_weights(rng, -20, 63))
        return np.concatenate([chip.run_mac(random_inputs(rng, 100, 10, 31), n) for n in (1, 2, 9)])
    lib.bss2_set_isa(isa)
    out = outputs()
    assert (out == 127).mean() > 0.1 and ((out > 92) & (out < 127)).mean() > 0.2  # compressed
    lib.bss2_set_isa(0)
    assert np.array_equal(out, outputs())


def test_concurrent_runs_from_python_threads():
    """Runs from several threads at once (one gets the pool, the others run on
    their own thread) give the same results as one after the other."""
    import threading
    serials = [f"EMU-01{i:02d}" for i in range(4)]
    expected = {s: runs_of(s) for s in serials}
    got = {}

    def work(serial):
        got[serial] = runs_of(serial)

    threads = [threading.Thread(target=work, args=(s,)) for s in serials]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(np.array_equal(got[s], expected[s]) for s in serials)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_runs_in_a_forked_child():
    """The thread pool is rebuilt in a child made by fork() after the parent used it."""
    import multiprocessing
    expected = runs_of("EMU-0007")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(runs_of, ("EMU-0007",)).get(timeout=120)
    assert np.array_equal(got, expected)


def test_batch_split_within_a_run():
    rng = np.random.default_rng(5)
    chip = VirtualChip("EMU-0011")
    chip.configure_mac(random_weights(rng))
    x = random_inputs(rng, 1001)
    readout = chip._readout
    scale = readout.scale_table(chip.pattern, 3, 10)
    key = lib.bss2_stream_key(chip.seed, 4, 0)
    whole = readout.run(chip._weights, chip._pulses, x, scale, key)
    cuts = [0, 1, 2, 25, 26, 500, 977, 1001]
    pieces = [readout.run(chip._weights, chip._pulses, np.ascontiguousarray(x[a:b]), scale, key, sample0=a)
              for a, b in zip(cuts[:-1], cuts[1:])]
    assert np.array_equal(np.concatenate(pieces), whole)
    # and the reference computes the same pieces
    expected = reference.run_mac(chip, x[500:977], 3, 10, run=4, sample0=500)
    assert np.mean(whole[500:977] == expected) >= 0.999


def test_sample_result_does_not_depend_on_batch_size_or_earlier_runs():
    rng = np.random.default_rng(6)
    w, x = random_weights(rng), random_inputs(rng, 600)
    a, b = VirtualChip("EMU-0012"), VirtualChip("EMU-0012")
    a.configure_mac(w)
    b.configure_mac(w)
    assert np.array_equal(a.run_mac(x[:37]), b.run_mac(x)[:37])        # run 0: prefix of a batch
    a.run_mac(x[:5])                                                    # run 1 with other batches
    b.run_mac(x)
    assert np.array_equal(a.run_mac(x, 2), b.run_mac(x, 2))            # run 2: the same
    assert not np.array_equal(a.run_mac(x), b.run_mac(x[::-1])[::-1])  # run 3: noise is per sample


# -- the normal deviates ------------------------------------------------------------------------

def test_normals_are_standard_normal():
    key = lib.bss2_stream_key(12345, 0, 0)
    n = normals(key, 0, 1_000_000)
    assert stats.kstest(n, "norm").pvalue > 1e-3
    assert abs(n.mean()) < 0.005 and abs(n.std() - 1) < 0.005
    assert abs(stats.skew(n)) < 0.01 and abs(stats.kurtosis(n)) < 0.02
    # tails are not cut: about 6.8 of 1e6 draws beyond 4.5 sigma are expected
    assert 1 <= np.sum(np.abs(n) > 4.5) <= 20
    # consecutive counters are uncorrelated
    assert abs(np.corrcoef(n[:-1], n[1:])[0, 1]) < 0.005
    assert abs(np.corrcoef(n[:-512], n[512:])[0, 1]) < 0.005


def test_membrane_and_baseline_streams_and_runs_are_independent():
    k1, k2 = lib.bss2_stream_key(1, 0, 0), lib.bss2_stream_key(1, 1, 0)
    w = normals(k1, 0, 400_000)
    a, b, c = w[0::2], w[1::2], normals(k2, 0, 400_000)[0::2]   # membrane, baseline, next run
    for x, y in ((a, b), (a, c), (b, c)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 0.01
        assert stats.ks_2samp(x, y).pvalue > 1e-3
    assert stats.kstest(b, "norm").pvalue > 1e-3


@pytest.mark.parametrize("isa", ISA_LEVELS)
def test_normal_transform_on_every_segment(isa):
    """All 32 octave segments, both signs, the extremes, on every code path."""
    lib.bss2_set_isa(isa)
    u = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
    for o in range(32):
        for tp in (1 << (31 - o), (1 << (32 - o)) - 1):
            t = (tp - 1) // 2
            u += [t, 0xFFFFFFFF ^ t]
    u = np.array(u + list(np.random.default_rng(1).integers(0, 2**32, 3001)), np.uint32)
    out = np.empty(u.size, np.float32)
    lib.bss2_normal_from_bits(ffi.from_buffer("uint32_t[]", u), u.size, ffi.from_buffer("float[]", out))
    assert np.array_equal(out, reference.normal_from_bits(u))
    # accuracy against the exact inverse: p = (2t + 1) / 2^33 for the folded t
    t = np.where(u >= 2**31, 0xFFFFFFFF - u.astype(np.int64), u.astype(np.int64))
    exact = np.where(u >= 2**31, -1.0, 1.0) * ndtri((2.0 * t + 1) / 2.0**33)
    assert np.abs(out - exact).max() < 5e-5
    assert out[0] == out.min() and out[5] == out.max() and out[0] == -out[5]
    assert -6.34 < out[0] < -6.33


def test_normal_coefficients_fit_ndtri():
    y = np.linspace(-0.5, 0.5, 10_001, dtype=np.float32)[:-1]
    c = reference.NORMAL_COEFFICIENTS
    for o in range(32):
        q = c[4, o] * np.ones_like(y)
        for k in (3, 2, 1, 0):
            q = q * y + c[k, o]
        exact = ndtri((y.astype(np.float64) + 1.5) * 2.0 ** -(o + 2))
        assert np.abs(q - exact).max() < 5e-5, o
        assert np.allclose(reference.normal_fit(o).astype(np.float32), c[:, o], rtol=1e-5, atol=1e-9)


def test_output_noise_of_the_default_chip_is_about_two_lsb():
    chip = VirtualChip()
    chip.configure_mac(np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8))
    out = chip.run_mac(np.zeros((2000, g.MAC_INPUTS), np.uint8)).astype(float)
    per_neuron = out.std(axis=0)
    assert 1.7 < per_neuron.mean() < 2.3
    assert abs(out.mean()) < 0.1


# -- errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [32, 200, 255])
def test_activation_out_of_range_names_index_and_range(value):
    chip = VirtualChip()
    chip.configure_mac(np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8))
    x = np.zeros((50, g.MAC_INPUTS), np.uint8)
    x[31, 100] = value
    x[40, 2] = 99
    runs = chip.run_counter
    with pytest.raises(InvalidInput) as err:
        chip.run_mac(x)
    msg = str(err.value)
    assert "inputs[31, 100]" in msg and str(value) in msg and "0..31" in msg
    assert err.value.field == "inputs[31, 100]"
    assert chip.run_counter == runs + 1  # the run was attempted: its counter is used up
    with pytest.raises(InvalidInput, match=r"inputs\[31, 100\].*0\.\.31"):
        reference.run_mac(chip, x)


def test_other_validation_errors_are_kept():
    chip = VirtualChip()
    with pytest.raises(InvalidInput, match="configure_mac first"):
        chip.run_mac(np.zeros((1, g.MAC_INPUTS), np.uint8))
    chip.configure_mac(np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8))
    with pytest.raises(InvalidInput, match="num_sends"):
        chip.run_mac(np.zeros((1, g.MAC_INPUTS), np.uint8), num_sends=0)
    with pytest.raises(InvalidInput, match="inputs"):
        chip.run_mac(np.zeros((1, g.MAC_INPUTS), np.int16))
    with pytest.raises(InvalidInput, match=r"weights\[0, 5\]"):
        w = np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
        w[0, 5] = 64
        chip.configure_mac(w)
