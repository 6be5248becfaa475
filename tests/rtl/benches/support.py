"""What the bench tests share: the simulator check, the results of a session, the assertions."""
import shutil

import pytest

from hil.rtl import build
from hil.rtl.benches import BenchResult, run_bench

_RESULTS: dict = {}


def require(simulator: str) -> None:
    if simulator == "icarus" and shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog (iverilog) is not installed")
    if simulator == "verilator":
        try:
            build.verilator_root()
        except FileNotFoundError as e:
            pytest.skip(str(e))


def result(block: str, simulator: str = "icarus", **kw) -> BenchResult:
    """The bench's result, run once per session (per xdist worker) for the same arguments."""
    require(simulator)
    key = (block, simulator, tuple(sorted(kw.items())))
    if key not in _RESULTS:
        _RESULTS[key] = run_bench(block, simulator=simulator, **kw)
    return _RESULTS[key]


def assert_clean(r: BenchResult, *, complete: tuple[str, ...] = ()) -> None:
    """Every check compared cases with no mismatch, and the named coverage items are complete."""
    assert r.checks and all(c.compared > 0 for c in r.checks), r.checks
    bad = {c.name: (c.mismatches, c.failures[:3]) for c in r.checks if c.mismatches}
    assert not bad, bad
    assert r.passed
    names = {c.name: c for c in r.coverage}
    for name in complete:
        assert names[name].complete, names[name]


def assert_caught(r: BenchResult, check: str, *, inputs: tuple[str, ...]) -> dict:
    """The check found mismatches and lists failing cases carrying the named inputs."""
    c = r.check(check)
    assert not r.passed and c.mismatches > 0, c
    assert 0 < len(c.failures) <= 20
    for f in c.failures:
        assert all(k in f for k in inputs), f
    return c.failures[0]
