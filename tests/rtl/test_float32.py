"""The float32 helpers of the RTL models (rtl_models/bss2/float32.vh) against numpy."""
import shutil

import pytest

from hil.rtl.build import build_top
from tests.rtl.float32_bench import STIM_FILE, write_cases
from tests.support import REPO


@pytest.mark.rtl
def test_float32_helpers_round_like_ieee_on_icarus(tmp_path):
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog (iverilog) is not installed")
    b = build_top("float32_bench", [REPO / "tests" / "rtl" / "float32_bench.v"], "icarus")
    write_cases(tmp_path / STIM_FILE)
    b.test("tests.rtl.float32_bench", tmp_path)     # a failing cocotb test raises SimulationFailed
