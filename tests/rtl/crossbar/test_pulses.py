"""The crossbar tile's pulse-train generator and coincidence counter (rtl_models/crossbar/pulse_train.v,
coincidence.v) against emulator/crossbar/pulses.py, bit for bit, through their bench
(hil/rtl/crossbar/benches.py on the harness hil/rtl/crossbar/pulses.v).

    pytest tests/rtl/crossbar/test_pulses.py                                      # Icarus
    pytest tests/rtl/crossbar/test_pulses.py --backend rtl --simulator verilator
"""
import numpy as np
import pytest

from emulator.crossbar import pulses as pl
from hil.rtl.crossbar import benches as bench
from tests.rtl.benches.support import assert_caught, assert_clean
from tests.rtl.crossbar.support import result, simulator

CHECKS = {"pulses.thresholds", "pulses.trains", "pulses.coincidences", "pulses.directions"}


@pytest.mark.rtl
def test_every_train_and_count_is_the_definitions(pytestconfig):
    r = result("pulses", simulator(pytestconfig))
    assert_clean(r, complete=bench.COVERAGE["pulses"])
    assert {c.name for c in r.checks} == CHECKS
    assert all(c.stage == "digital" and c.tolerance == "exact" and c.max_deviation == 0 for c in r.checks)
    trains = r.figures["pulses_corners_trains"] + r.figures["pulses_random_trains"]
    pairs = r.figures["pulses_corners_pairs"] + r.figures["pulses_random_pairs"]
    assert r.check("pulses.trains").compared == r.check("pulses.thresholds").compared == trains
    assert r.check("pulses.coincidences").compared == r.check("pulses.directions").compared == pairs
    assert r.figures["pulses_random_trains"] == bench.RANDOM_TRAINS
    assert r.figures["pulses_random_pairs"] == bench.RANDOM_PAIRS
    assert r.figures["coverage_missing"] == {}
    print(f"pulses bench on {r.simulator}: {r.seconds:.1f} s, {trains} trains "
          f"({r.figures['pulses_corners_words'] + r.figures['pulses_random_words']} words), {pairs} pairs")


@pytest.mark.rtl
@pytest.mark.slow
def test_every_train_and_count_is_the_definitions_on_verilator():
    r = result("pulses", "verilator")
    assert r.simulator == "verilator"
    assert_clean(r, complete=bench.COVERAGE["pulses"])


@pytest.mark.rtl
def test_bench_catches_a_slot_that_fires_at_the_threshold(pytestconfig, tmp_path):
    r = result("pulses", simulator(pytestconfig), workdir=tmp_path, plusargs=("+BENCH_MUTATE=3",),
               testcase="pulses_corners")
    f = assert_caught(r, "pulses.trains", inputs=("p", "bl", "words", "gaps", "rtl", "reference"))
    extra = int(f["rtl"], 16) & ~int(f["reference"], 16)
    assert extra and int(f["rtl"], 16) & int(f["reference"], 16) == int(f["reference"], 16)   # fires more only
    threshold = int(pl.threshold(np.float32(f["p_value"])))
    assert all(int(f["words"][t], 16) == threshold for t in range(64) if extra >> t & 1)
    for check in ("pulses.thresholds", "pulses.coincidences", "pulses.directions"):
        assert r.check(check).mismatches == 0


@pytest.mark.rtl
def test_bench_catches_a_lost_slot_in_the_counter(pytestconfig, tmp_path):
    r = result("pulses", simulator(pytestconfig), workdir=tmp_path, plusargs=("+BENCH_MUTATE=4",),
               testcase="pulses_corners")
    f = assert_caught(r, "pulses.coincidences", inputs=("row", "column", "d", "x", "rtl", "reference"))
    assert f["reference"] - f["rtl"] == 1
    assert r.check("pulses.trains").mismatches == 0


@pytest.mark.rtl
def test_bench_fails_on_incomplete_coverage(pytestconfig, tmp_path):
    r = result("pulses", simulator(pytestconfig), workdir=tmp_path, testcase="pulses_coverage_complete")
    assert not r.passed and "coverage incomplete" in r.figures["simulation_error"]
    assert set(r.figures["coverage_missing"]) == set(bench.COVERAGE["pulses"])


def test_thresholds_and_trains_of_the_edges():
    p = bench.P_CORNERS
    thr = pl.threshold(p).tolist()
    assert thr[:5] == [0, 0, 0, 0, 0] and thr[5:7] == [1, 1] and thr[7] == 2 and thr[-1] == 1 << 32
    assert thr[-2] == (1 << 32) - (1 << 8)                         # 1 - 2^-24
    words = np.array([[0, 1, 2, 0xFFFFFFFF]], np.uint32)
    assert pl.trains(words, np.float32([2.0 ** -31]), 4).tolist() == [0b0011]      # threshold 2: 0 and 1
    assert pl.trains(words, np.float32([1.0]), 4).tolist() == [0b1111]
    assert pl.trains(words, np.float32([0.0]), 4).tolist() == [0]
    assert pl.trains(words, np.float32([1.0]), 2).tolist() == [0b11]


def test_stimulus_reaches_the_edges_and_every_count():
    rng = np.random.default_rng(0)
    trains = bench.train_stimulus(rng, True)
    assert set(trains["bl"].tolist()) == set(bench.BL_CORNERS)
    thr = pl.threshold(trains["p"]).astype(np.int64)[:, None]
    w = trains["words"].astype(np.int64)
    inner = (thr > 0) & (thr < 1 << 32)
    assert (inner & (w == thr - 1)).any() and (inner & (w == thr)).any() and (inner & (w == thr + 1)).any()
    pairs = bench.pair_stimulus(rng, True)
    want = bench.pair_reference(pairs)
    assert set(want["count"].tolist()) == set(range(65))
    assert (pairs["d"] != 0).all() and (pairs["x"] != 0).all()
    signs = set(zip(np.signbit(pairs["d"]).tolist(), np.signbit(pairs["x"]).tolist()))
    assert len(signs) == 4
    assert want["down"].tolist() == (np.signbit(pairs["d"]) == np.signbit(pairs["x"])).tolist()


def test_case_lines_are_what_the_harness_reads():
    trains = {"p": np.float32([0.5]), "bl": np.array([2]), "words": np.arange(64, dtype=np.uint32)[None, :] + 7,
              "gaps": np.array([5], np.uint64)}
    assert bench.train_lines(trains) == "0000000000000005 3f000000 2 00000007 00000008\n"
    pairs = {"gap": np.array([0]), "row": np.array([3], np.uint64), "column": np.array([1 << 63], np.uint64),
             "d": np.float32([-1.0]), "x": np.float32([2.0])}
    assert bench.pair_lines(pairs) == "0 0000000000000003 8000000000000000 1 0\n"
