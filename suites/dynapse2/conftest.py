"""The Dynap-SE2-like family's devices for its suites: the selected backend opened with
``family="dynapse2"`` (a virtual board of that family under ``--backend board``). A backend without
the family (the bss2 RTL core) skips the suites with its reason."""
import pytest

FAMILY = "dynapse2"


@pytest.fixture(scope="session")
def d2_backend(open_backend):
    """The Dynap-SE2-like device under test (session-wide)."""
    return open_backend(family=FAMILY)


@pytest.fixture(scope="session")
def d2_ideal(open_backend):
    """The same family's ideal device: no mismatch, no temporal noise."""
    return open_backend(family=FAMILY, ideal=True)


@pytest.fixture(scope="session")
def d2_require_mode(d2_backend):
    """``d2_require_mode("traces")`` skips, with the reason, where the device does not run that mode."""

    def check(mode: str) -> None:
        modes = d2_backend.info().modes
        if mode not in modes:
            pytest.skip(f"{d2_backend!r} does not run the {mode!r} mode (it runs {list(modes)})")

    return check
