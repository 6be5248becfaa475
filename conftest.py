"""Backend selection for every suite.

    pytest                                   # the embedded default: the emulated chip
    pytest --backend emulator --serial EMU-0042

Suites take the ``backend`` fixture and never name a backend themselves, so
the same files run against the emulator, RTL simulations and boards.
"""
import pytest

import hil
from hil.errors import Unsupported
from hil.store import ResultStore


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop rig")
    group.addoption("--backend", default="emulator",
                    help="backend the suites run on (default: emulator; see hil.backend.available())")
    group.addoption("--serial", default=None,
                    help="serial of the virtual chip (emulator backend); default: the emulator's default")
    group.addoption("--results", default=None,
                    help="results store the suites save their runs in (default: a temporary one)")


def pytest_configure(config):
    name = config.getoption("--backend")
    if name not in hil.backend.available():
        raise pytest.UsageError(f"--backend {name!r} is not available; available: {hil.backend.available()}")


def _options(config, **extra) -> dict:
    opts = {}
    serial = config.getoption("--serial")
    if serial is not None:
        opts["serial"] = serial
    opts.update(extra)
    return opts


@pytest.fixture(scope="session")
def backend_name(pytestconfig) -> str:
    return pytestconfig.getoption("--backend")


@pytest.fixture(scope="session")
def open_backend(pytestconfig, backend_name):
    """Factory: opens more devices of the selected backend; all are closed at the end.

    ``open_backend(serial=..., ideal=True, faults=...)``; a backend that cannot
    honour an option by design makes the test skip with its reason.
    """
    opened = []

    def factory(**options):
        try:
            b = hil.backend.open(backend_name, **_options(pytestconfig, **options))
        except (Unsupported, TypeError) as exc:
            pytest.skip(f"the {backend_name} backend cannot open with {sorted(options)}: {exc}")
        opened.append(b)
        return b

    yield factory
    for b in opened:
        b.close()


@pytest.fixture(scope="session")
def backend(open_backend):
    """The device under test (session-wide; its run counter advances across tests)."""
    return open_backend()


@pytest.fixture(scope="session")
def ideal_backend(open_backend):
    """The same backend without mismatch and noise: it must equal the analytical model."""
    return open_backend(ideal=True)


@pytest.fixture
def fresh_backend(open_backend):
    """A newly opened device of the selected serial, for tests that need run 0."""
    return open_backend()


@pytest.fixture(scope="session")
def results_store(pytestconfig, tmp_path_factory) -> ResultStore:
    """Where the suites' experiment runs are saved (``--results DIR`` to keep them)."""
    root = pytestconfig.getoption("--results")
    return ResultStore(root if root is not None else tmp_path_factory.mktemp("results"))
