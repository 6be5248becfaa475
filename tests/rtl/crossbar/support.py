"""What the crossbar RTL tests share: the simulator of the session and the bench results (one run per
arguments).

The benches run on Icarus by default; ``pytest tests/rtl/crossbar --backend rtl --simulator verilator`` runs
them on Verilator (the tests marked slow run there anyway).
"""
from hil.rtl.benches import BenchResult
from hil.rtl.crossbar.benches import run_bench
from tests.rtl.benches.support import require

_RESULTS: dict = {}


def simulator(config) -> str:
    """The simulator ``--simulator`` names (with ``--backend rtl``), else Icarus."""
    return config.getoption("--simulator") or "icarus"


def result(block: str, simulator: str = "icarus", **kw) -> BenchResult:
    """The bench's result, run once per session (per xdist worker) for the same arguments."""
    require(simulator)
    key = (block, simulator, tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _RESULTS:
        _RESULTS[key] = run_bench(block, simulator, **kw)
    return _RESULTS[key]
