"""The float32 helpers of the RTL models (rtl_models/bss2/float32.vh) against numpy."""
import pytest

from tests.rtl.float32_bench import STIM_FILE, write_cases
from tests.rtl.simulator import REPO, RTL, require, run_bench


@pytest.mark.rtl
def test_float32_helpers_round_like_ieee_on_icarus(monkeypatch):
    require("icarus", monkeypatch)
    run_bench("icarus", bench="float32", toplevel="float32_bench",
              sources=[REPO / "tests" / "rtl" / "float32_bench.v"], includes=[RTL / "bss2"],
              test_module="tests.rtl.float32_bench", before_test=lambda d: write_cases(d / STIM_FILE))
