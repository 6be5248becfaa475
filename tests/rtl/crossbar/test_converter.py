"""The crossbar tile's converter (rtl_models/crossbar/converter.v) against emulator/crossbar/converters.py,
bit for bit, through its bench (hil/rtl/crossbar/benches.py on the harness hil/rtl/crossbar/converter.v).

    pytest tests/rtl/crossbar/test_converter.py                                   # Icarus
    pytest tests/rtl/crossbar/test_converter.py --backend rtl --simulator verilator
"""
import numpy as np
import pytest

from emulator.crossbar import converters as cv
from hil.rtl.crossbar import benches as bench
from tests.rtl.benches.support import assert_caught, assert_clean
from tests.rtl.crossbar.support import result, simulator

CHECKS = {"converter.steps", "converter.codes", "converter.values"}
INPUTS = ("bound", "N", "v", "sr", "u", "rtl", "reference")


@pytest.mark.rtl
def test_every_case_is_the_definitions(pytestconfig):
    r = result("converter", simulator(pytestconfig))
    assert_clean(r, complete=bench.COVERAGE["converter"])
    assert {c.name for c in r.checks} == CHECKS
    assert all(c.stage == "digital" and c.tolerance == "exact" and c.max_deviation == 0 for c in r.checks)
    cases = r.figures["converter_corners_cases"] + r.figures["converter_random_cases"]
    assert r.check("converter.steps").compared == r.check("converter.values").compared == cases
    assert r.figures["converter_random_cases"] == bench.RANDOM_CONFIGS * bench.CASES_PER_CONFIG
    assert 0 < r.check("converter.codes").compared < cases          # N = 0 has no codes to compare
    assert {c.name for c in r.coverage} == set(bench.COVERAGE["converter"])
    assert r.figures["coverage_missing"] == {}
    print(f"converter bench on {r.simulator}: {r.seconds:.1f} s, {cases} cases")


@pytest.mark.rtl
@pytest.mark.slow
def test_every_case_is_the_definitions_on_verilator():
    r = result("converter", "verilator")
    assert r.simulator == "verilator"
    assert_clean(r, complete=bench.COVERAGE["converter"])


@pytest.mark.rtl
def test_bench_catches_a_clip_one_level_short(pytestconfig, tmp_path):
    r = result("converter", simulator(pytestconfig), workdir=tmp_path, plusargs=("+BENCH_MUTATE=1",),
               testcase="converter_corners")
    f = assert_caught(r, "converter.codes", inputs=INPUTS)
    assert f["N"] > 1 and abs(f["rtl"][0]) == f["N"] - 1 and abs(f["reference"][0]) == f["N"]
    assert r.check("converter.values").mismatches > 0 and r.check("converter.steps").mismatches == 0


@pytest.mark.rtl
def test_bench_catches_dropped_stochastic_rounding(pytestconfig, tmp_path):
    r = result("converter", simulator(pytestconfig), workdir=tmp_path, plusargs=("+BENCH_MUTATE=2",),
               testcase="converter_corners")
    f = assert_caught(r, "converter.steps", inputs=INPUTS)
    assert f["sr"] and f["u"] == "0xbf000000"
    assert r.check("converter.codes").mismatches > 0


@pytest.mark.rtl
def test_bench_fails_on_incomplete_coverage(pytestconfig, tmp_path):
    """The coverage test alone (no case run): every item has holes, and the bench fails saying so."""
    r = result("converter", simulator(pytestconfig), workdir=tmp_path, testcase="converter_coverage_complete")
    assert not r.passed and "coverage incomplete" in r.figures["simulation_error"]
    assert set(r.figures["coverage_missing"]) == set(bench.COVERAGE["converter"])


def test_reference_follows_the_definitions():
    """A converter of N = 2 levels of bound 1 (inv 2, step 1/2): ties to even, the flags, the clip."""
    configs = [(1.0, 2), (1.0, 0)]
    v = np.array([0.25, 0.75, 1.25, 1.5, -1.5, -0.25, -0.0, 2.0, -3.0, 0.5], np.float32)
    cases = {"config": np.array([0] * 9 + [1]), "v": v, "sr": np.zeros(10, bool), "u": np.zeros(10, np.float32)}
    want = bench.converter_reference(configs, cases)
    assert want["code"][:9].tolist() == [0, 2, 2, 2, -2, 0, 0, 2, -2]
    assert want["above"][:9].tolist() == [False, False, False, True, False, False, False, True, False]
    assert want["below"][:9].tolist() == [False, False, False, False, True, False, False, False, True]
    assert bench.floats(want["value"][:9]).tolist() == [0.0, 1.0, 1.0, 1.0, -1.0, 0.0, 0.0, 1.0, -1.0]
    assert bench.floats(want["t"][:9]).tolist() == [0.5, 1.5, 2.5, 3.0, -3.0, -0.5, -0.0, 4.0, -6.0]
    assert bench.bits(bench.floats(want["t"][5:7])).tolist() == [0xBF000000, 0x80000000]
    # without quantisation: v clipped to the bound, the flags v > b (0.5 inside)
    assert bench.floats(want["value"][9:]).tolist() == [0.5] and not want["q_above"][9]
    # with stochastic rounding the deviate goes in before rint: 1.5 - 0.5 = 1 (no tie), 0.75 -> t 1.5 + 0
    cases = {"config": np.zeros(2, int), "v": np.array([0.75, 0.25], np.float32), "sr": np.ones(2, bool),
             "u": cv.uniform(np.array([0, 1 << 31], np.uint32))}
    assert bench.converter_reference(configs, cases)["code"].tolist() == [1, 0]


def test_directed_values_hit_ties_boundaries_and_specials():
    ties = set()
    for bound, n in bench.CORNER_CONFIGS:
        v = bench.corner_values(bound, n)
        assert np.isfinite(v).all()
        assert {0x00000000, 0x80000000, 0x00000001, 0x7F7FFFFF} <= set(bench.bits(v).tolist())
        if n:
            inv = cv.inverse(bound, n)
            with np.errstate(over="ignore"):
                t = v * inv
            classes = set(bench.tie_class(t).tolist())
            assert classes & {1, 2}, (bound, n)                    # some tie x.5
            ties |= classes
            assert (np.abs(np.rint(t)) == n).any()
            if float(inv) * bench.F32_MAX > n + 1:                 # beyond N where the range reaches it
                assert (np.abs(np.rint(t)) > n).any(), (bound, n)
    assert ties == {0, 1, 2}                                       # ties rounded down and up


def test_classes():
    t = np.array([0.0, -0.0, 1e-45, 1.0, 2.0 ** 23, -3e38, np.inf, -np.inf], np.float32)
    assert bench.float_class(t).tolist() == [0, 0, 1, 2, 3, 3, 4, 4]
    assert bench.tie_class(np.array([0.5, 1.5, 2.5, -2.5, 2.0, 8388607.5, np.inf], np.float32)).tolist() \
        == [1, 2, 1, 1, 0, 2, 0]
    assert bench.level_class([0, 1, 2, (1 << 20) - 1, 1 << 20]).tolist() == [0, 1, 2, 2, 3]


def test_case_lines_are_what_the_harness_reads():
    configs = [(1.0, 3)]
    cases = {"config": np.zeros(1, int), "v": np.array([-0.0], np.float32), "sr": np.ones(1, bool),
             "u": np.array([-0.5], np.float32), "gap": np.array([2])}
    inv, step = bench.bits([cv.inverse(1.0, 3), cv.step(1.0, 3)]).tolist()
    assert bench.converter_lines(configs, cases) == f"2 80000000 {inv:08x} {step:08x} 3 1 bf000000\n"
    got = bench.read_converter("bf000000 -1 0 1 bf2aaaab\n")
    assert got["code"].tolist() == [-1] and got["below"].tolist() == [True] and got["t"].tolist() == [0xBF000000]
