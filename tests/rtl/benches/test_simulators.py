"""Every block bench once on Verilator, through the same runner (hil.rtl.build)."""
import pytest

from hil.rtl.benches import BLOCKS
from tests.rtl.benches.support import assert_clean, result


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS)
def test_bench_passes_on_verilator(block):
    r = result(block, simulator="verilator")
    assert r.simulator == "verilator"
    assert_clean(r)
