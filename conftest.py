"""Backend selection for every suite.

    pytest                                   # the embedded default: the emulated chip
    pytest --backend emulator --serial EMU-0042
    pytest --backend board                   # virtual boards (`hil serve` processes) over TCP + pyvisa
    pytest --backend board --board TCPIP::10.0.0.5::5025::SOCKET

Suites take the ``backend`` fixture and never name a backend themselves, so
the same files run against the emulator, RTL simulations and boards.
"""
import pytest

import hil
from hil.errors import Unsupported
from hil.store import ResultStore
from hil.virtual_board import BoardProcess


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop rig")
    group.addoption("--backend", default="emulator",
                    help="backend the suites run on (default: emulator; see hil.backend.available())")
    group.addoption("--serial", default=None,
                    help="serial of the virtual chip (emulator backend); default: the emulator's default")
    group.addoption("--board", default=None,
                    help="board backend: a VISA resource to test instead of starting virtual boards")
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

    ``open_backend(serial=..., ideal=True, faults=...)``. With ``--backend board``
    and no ``--board``, each call starts a virtual board (``hil serve`` in its own
    process, on a free loopback port) with those options and connects to it over
    pyvisa. A backend that cannot honour an option by design makes the test skip
    with its reason.
    """
    opened, processes = [], []

    def factory(**options):
        options = _options(pytestconfig, **options)
        if backend_name == "board":
            resource = pytestconfig.getoption("--board")
            if resource is not None:
                if options:
                    pytest.skip(f"a real board ({resource}) cannot be opened with {sorted(options)}")
            else:
                proc = BoardProcess(**options)
                processes.append(proc)
                resource = proc.resource
            b = hil.backend.open("board", resource=resource)
        else:
            try:
                b = hil.backend.open(backend_name, **options)
            except (Unsupported, TypeError) as exc:
                pytest.skip(f"the {backend_name} backend cannot open with {sorted(options)}: {exc}")
        opened.append(b)
        return b

    yield factory
    for b in opened:
        b.close()
    for p in processes:
        p.close()


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
