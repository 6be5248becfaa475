"""The event router (rtl_models/dynapse2/router.v) against hil.dynapse2.models.route, delivery for
delivery and in order, through its bench (hil/rtl/benches/router.py on the harness router.v).

    pytest tests/rtl/dynapse2/test_router.py            # Icarus bench, its self-tests, the files
"""
import numpy as np
import pytest

from hil.rtl.benches import router as bench
from hil.rtl.dynapse2 import router
from tests.rtl.benches.support import assert_caught, assert_clean
from tests.rtl.dynapse2.support import result

CHECKS = {"router.random", "router.corners", "router.off_mesh", "router.refused_writes"}


@pytest.mark.rtl
def test_every_delivery_is_the_models_on_icarus():
    r = result("router")
    assert_clean(r, complete=bench.COVERAGE)
    assert {c.name for c in r.checks} == CHECKS
    assert all(c.stage == "digital" and c.tolerance == "exact" for c in r.checks)
    assert r.check("router.random").compared >= 10_000        # the random configurations do deliver
    assert r.figures["random_sources"] == 2 * bench.RANDOM_CONFIGS * (bench.SPIKES + 2 + bench.INPUTS)
    print(f"router bench on Icarus: {r.seconds:.1f} s, "
          f"{sum(v for k, v in r.figures.items() if k.endswith('_cycles'))} clocks")


@pytest.mark.rtl
def test_bench_catches_lost_duplicates(tmp_path):
    r = result("router", workdir=tmp_path, plusargs=("+BENCH_MUTATE=1",), testcase="corners")
    f = assert_caught(r, "router.corners", inputs=("case", "place", "source", "rtl", "reference"))
    assert f["case"] == "four copies, three copies"


@pytest.mark.rtl
def test_bench_catches_a_wrong_weight_mask(tmp_path):
    r = result("router", workdir=tmp_path, plusargs=("+BENCH_MUTATE=2",), testcase="corners")
    assert_caught(r, "router.corners", inputs=("case", "place", "source", "rtl", "reference"))
    bad = [f for f in r.check("router.corners").failures if f["rtl"] and f["reference"]]
    assert bad and all((f["rtl"]["weights"], f["reference"]["weights"]) == (7, 15) for f in bad)


@pytest.mark.rtl
@pytest.mark.slow
def test_every_delivery_is_the_models_on_verilator():
    r = result("router", simulator="verilator")
    assert r.simulator == "verilator"
    assert_clean(r, complete=bench.COVERAGE)
    assert r.check("router.random").compared == result("router").check("router.random").compared


def test_rows_pack_as_router_v_says():
    a = bench.blank(1)
    a["cam_tag"][0, 5, 63], a["cam_type"][0, 5, 63], a["cam_weights"][0, 5, 63] = 2047, 3, 15
    a["cam_tag"][0, 5, 0], a["cam_weights"][0, 5, 0] = 1, 2
    a["sram_tag"][0, 5, 3], a["sram_cores"][0, 5, 3], a["sram_dx"][0, 5, 3], a["sram_dy"][0, 5, 3] = 7, 9, -1, -7
    lines = router.config_lines(a, (1, 1))
    assert len(lines) == 1 + 2 * 1024 and lines[0] == "0 0 9"               # width 1, height 1 << 3
    kind, addr, sram = lines[1 + 5].split()
    assert (kind, addr, len(sram)) == ("1", "5", 23)
    assert int(sram, 16) == (7 | 9 << 11 | 0xF << 15 | 0x9 << 19) << 69      # destination 3 at bit 69
    kind, addr, cam = lines[1 + 1024 + 5].split()
    assert (kind, addr, len(cam)) == ("2", "5", 272)
    assert int(cam, 16) == (2047 | 3 << 11 | 15 << 13) << (17 * 63) | (1 | 2 << 13)
    assert all(int(line.split()[2], 16) == 0 for line in lines[1:] if line.split()[1] != "5")


def test_probe_lines_and_deliveries(tmp_path):
    s = bench.sources(spikes=[(3, 1023)], inputs=[(2047, 1, 2)])
    assert router.probe_lines(s) == ["0 3 3ff 0 0", "1 1 0 2 7ff"]
    (tmp_path / "out.txt").write_text("")
    assert router.read_deliveries(tmp_path / "out.txt").shape == (0, 6)
    (tmp_path / "out.txt").write_text("0 1 300 63 2 15\n1 0 7 3 0 1\n")
    np.testing.assert_array_equal(router.read_deliveries(tmp_path / "out.txt"),
                                  [[0, 1, 300, 63, 2, 15], [1, 0, 7, 3, 0, 1]])


def test_clock_bound_covers_the_worst_source():
    # one spike reaching 16 cores whose every neuron's every entry delivers four times
    assert router.cycle_bound(256 * 64, 1) >= 16 * (257 + 4 * 256 * 64) + 3
    assert router.cycle_bound(0, 0, stall=True) == 2 * router.cycle_bound(0, 0)
