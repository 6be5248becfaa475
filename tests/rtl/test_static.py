"""Static checks of the models: Verilator's lint and Yosys synthesis of the digital blocks."""
import shutil
import subprocess

import pytest

from hil.rtl import build
from hil.rtl.crossbar import build as cb_build
from hil.rtl.dynapse2 import build as d2_build

pytestmark = pytest.mark.rtl

TOPS = {"synapse_driver.v": "bss2_synapse_driver", "synapse.v": "bss2_synapse",
        "synapse_array.v": "bss2_synapse_array", "neuron.v": "bss2_neuron", "cadc.v": "bss2_cadc",
        "chip.v": "bss2_chip", "noise.v": "bss2_noise"}
DIGITAL = [("synapse_driver.v", "bss2_synapse_driver_decode"), ("cadc.v", "bss2_cadc_ramp"),
           ("cadc.v", "bss2_cadc_channel")]


def test_every_model_file_is_linted():
    assert set(TOPS) == set(build.SOURCES)


@pytest.mark.parametrize("name", sorted(TOPS))
def test_verilator_lint_wall_is_clean(name):
    r = build.lint(build.MODELS / name, TOPS[name])
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
@pytest.mark.parametrize("name,top", DIGITAL)
def test_yosys_synthesises_the_digital_blocks(name, top):
    r = subprocess.run(["yosys", "-q", "-p", f"read_verilog -I{build.MODELS} {build.MODELS / name}; "
                        f"synth -top {top}; check -assert; tee -o /dev/stdout stat"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Number of cells" in r.stdout


D2_LINTS = [(name, params) for name in d2_build.SOURCES for params in d2_build.LINT_PARAMETERS[name]]


def test_every_dynapse2_model_file_is_linted_and_synthesised():
    files = {p.name for p in d2_build.MODELS.glob("*.v")}
    assert files == set(d2_build.SOURCES) == set(d2_build.TOPS) == set(d2_build.LINT_PARAMETERS) \
        == set(d2_build.SYNTHESIS)


@pytest.mark.parametrize("name,parameters", D2_LINTS, ids=[f"{n}-{p}" for n, p in D2_LINTS])
def test_verilator_lint_wall_is_clean_on_the_dynapse2_models(name, parameters):
    r = d2_build.lint(name, parameters)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
@pytest.mark.parametrize("name", d2_build.SOURCES)
def test_yosys_synthesises_the_dynapse2_models(name, tmp_path):
    """Yosys synthesises each model to gates, with no warning and no latch; the router's SRAM and
    CAM stay two memories (one write and one registered read port each: RAM macros)."""
    stat = tmp_path / "stat.txt"
    r = d2_build.synthesise(name, stat)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Warning" not in r.stdout, [ln for ln in r.stdout.splitlines() if "Warning" in ln]
    text = stat.read_text()
    assert "Number of cells" in text and "DLATCH" not in text
    memories = sum(int(ln.split()[1]) for ln in text.splitlines() if ln.strip().startswith("$mem_v2"))
    assert memories == (2 if name == "router.v" else 0)


def test_every_crossbar_model_file_is_linted_and_synthesised():
    files = {p.name for p in cb_build.MODELS.glob("*.v")}
    assert files == set(cb_build.SOURCES) == set(cb_build.TOPS) == set(cb_build.SYNTHESIS)


@pytest.mark.parametrize("name", cb_build.SOURCES)
def test_verilator_lint_wall_is_clean_on_the_crossbar_models(name):
    r = cb_build.lint(name)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
@pytest.mark.parametrize("name", cb_build.SOURCES)
def test_yosys_synthesises_the_crossbar_models(name, tmp_path):
    """Yosys synthesises each block to gates and flip-flops (all are clocked), with no warning and no
    latch or memory."""
    stat = tmp_path / "stat.txt"
    r = cb_build.synthesise(name, stat)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Warning" not in r.stdout, [ln for ln in r.stdout.splitlines() if "Warning" in ln]
    text = stat.read_text()
    assert "Number of cells" in text and "DLATCH" not in text and "$mem" not in text
    assert "DFF" in text
