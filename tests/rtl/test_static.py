"""Static checks of the models: Verilator's lint and Yosys synthesis of the digital blocks."""
import shutil
import subprocess

import pytest

from hil.rtl import build

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
