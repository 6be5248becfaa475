"""The RTL noise generator (rtl_models/bss2/noise.v) against the emulator's, bit for bit.

    pytest tests/rtl/benches/test_noise.py            # Icarus bench, lint, synthesis

The cocotb tests are hil/rtl/benches/noise.py (harness hil/rtl/benches/noise.v), run by
hil.rtl.benches.run_bench through hil.rtl.build.
"""
import shutil
import subprocess

import pytest

from hil.rtl import build, noise
from tests.rtl.benches.support import assert_caught, assert_clean, result

BSS2 = build.MODELS
NOISE_V = BSS2 / "noise.v"


@pytest.mark.rtl
def test_noise_is_bit_exact_on_icarus():
    r = result("noise")
    assert_clean(r, complete=("noise.octave_x_sign",))
    assert {c.name for c in r.checks} == {"noise.random_keys_and_counters", "noise.edge_patterns"}
    assert r.check("noise.random_keys_and_counters").compared >= 3 * 4096
    assert all(c.stage == "digital" and c.tolerance == "exact" for c in r.checks)
    assert r.coverage[0].bins_total == 64 and not r.figures["coverage_missing"]


def _coefficient_of_octave_0_moved(workdir):
    path = workdir / noise.COEFFICIENT_FILE
    lines = path.read_text().split()
    lines[0] = f"{int(lines[0], 16) ^ (1 << 40):016x}"     # c0 of octave 0, a low mantissa bit of the float32
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.rtl
def test_bench_catches_a_generator_that_is_not_the_emulators(tmp_path):
    r = result("noise", workdir=tmp_path, tamper=_coefficient_of_octave_0_moved)
    f = assert_caught(r, "noise.random_keys_and_counters", inputs=("key", "counter", "u1", "u2"))
    assert f["rtl"] != f["reference"]


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
    try:
        exe = build.verilator_executable()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    env = {**build.simulator_env("verilator"), "PATH": f"{exe.parent}:/usr/bin:/bin"}
    env.pop("MAKEFLAGS", None)
    for top in ("bss2_noise", "bss2_noise_bits"):
        out = subprocess.run([str(exe), "--lint-only", "-Wall", f"-I{BSS2}", "--top-module", top, str(NOISE_V)],
                             capture_output=True, text=True, env=env, timeout=120)
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
