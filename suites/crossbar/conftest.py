"""The crossbar tile family's devices for its suites: the selected backend opened with ``family="crossbar"``
(a virtual tile of that family under ``--backend board``). A backend without the family (the bss2 RTL
core) skips the suites with its reason."""
import pytest

FAMILY = "crossbar"


@pytest.fixture(scope="session")
def xb_backend(open_backend):
    """The crossbar tile under test (session-wide)."""
    return open_backend(family=FAMILY)


@pytest.fixture(scope="session")
def xb_ideal(open_backend):
    """The same family's perfect tile: exact products and the exact update."""
    return open_backend(family=FAMILY, ideal=True)


@pytest.fixture(scope="session")
def xb_require_mode(xb_backend):
    """``xb_require_mode("readback")`` skips, with the reason, where the tile does not run that mode."""

    def check(mode: str) -> None:
        modes = xb_backend.info().modes
        if mode not in modes:
            pytest.skip(f"{xb_backend!r} does not run the {mode!r} mode (it runs {list(modes)})")

    return check
