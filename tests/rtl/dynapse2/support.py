"""What the dynapse2 RTL tests share: the bench results of a session (one run per arguments)."""
from hil.rtl.benches import BenchResult
from hil.rtl.dynapse2.benches import run_bench
from tests.rtl.benches.support import require

_RESULTS: dict = {}


def result(block: str, simulator: str = "icarus", **kw) -> BenchResult:
    """The bench's result, run once per session (per xdist worker) for the same arguments."""
    require(simulator)
    key = (block, simulator, tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _RESULTS:
        _RESULTS[key] = run_bench(block, simulator=simulator, **kw)
    return _RESULTS[key]
