"""Backend selection for every suite.

    pytest                                   # the embedded default: the emulated chip
    pytest --backend emulator --serial EMU-0042
    pytest --backend board                   # virtual boards (`hil serve` processes) over TCP + pyvisa
    pytest --backend rtl                     # the Verilog models in Icarus Verilog (a reduced core)
    pytest --backend rtl --simulator verilator
    pytest --backend emulator --backend rtl  # every suite test on each, ids [emulator] and [rtl]
    pytest --backend board --board bench-1   # a board of the inventory, by name ...
    pytest --backend board --board TCPIP::10.0.0.5::5025::SOCKET    # ... or by resource
    pytest -n 4 --backend board --boards inventory.toml   # each xdist worker leases its own board

Suites take the ``backend`` fixture and never name a backend themselves, so
the same files run against the emulator, RTL simulations and boards; given
``--backend`` more than once, every test that takes a device is parametrised
over the backends (``./setup.sh test`` runs the suites so on the emulator and
the RTL).
With ``--board`` or ``--boards`` the session leases its board at first use
(see docs/boards.md); tests that need virtual chips of their own (a serial,
``ideal=True``, faults) skip there, since a real board cannot become another chip.
"""
import pytest

import hil
from hil.errors import UnknownBackend, Unsupported
from hil.server.pytest_pool import SessionBoard, board_pool
from hil.results.store import ResultStore
from hil.server.process import BoardProcess


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop rig")
    group.addoption("--backend", action="append", default=None, metavar="NAME",
                    help="backend the suites run on (default: emulator; see hil.backend.available()); "
                         "repeated: every test that takes a device runs on each")
    group.addoption("--serial", default=None,
                    help="serial of the virtual chip (emulator backend); default: the emulator's default")
    group.addoption("--board", default=None, metavar="NAME|RESOURCE",
                    help="board backend: the board to test instead of starting virtual boards: its name in "
                         "the inventory (--boards, else $HIL_INVENTORY or ./inventory.toml) or its VISA "
                         "resource TCPIP::<host>::<port>::SOCKET; leased for the session")
    group.addoption("--boards", default=None, metavar="FILE",
                    help="board backend: an inventory of boards (TOML, docs/boards.md); each session "
                         "(each pytest-xdist worker) leases a free board of it")
    group.addoption("--simulator", default=None, choices=("icarus", "verilator"),
                    help="rtl backend: the simulator (default: icarus)")
    group.addoption("--results", default=None,
                    help="results store the suites save their runs in (default: a temporary one)")


_BOARD_POOL = pytest.StashKey["Inventory | None"]()


def backends(config) -> list[str]:
    """The backends the suites run on, in the order given (``--backend``, default emulator)."""
    return list(dict.fromkeys(config.getoption("--backend") or ["emulator"]))


def pytest_configure(config):
    for name in backends(config):
        if name not in hil.backend.available():
            raise pytest.UsageError(f"--backend {name!r} is not available; available: {hil.backend.available()}")
    if config.getoption("--simulator") is not None and "rtl" not in backends(config):
        raise pytest.UsageError("--simulator selects the rtl backend's simulator; use it with --backend rtl")
    config.stash[_BOARD_POOL] = board_pool(config)


LONGEST_FIRST = ("tests/test_docs.py::test_commands_run_as_written",)
"""Tests that take a worker for most of a run (every documented command in a fresh copy, about 20 minutes):
collected first, so that with ``-n 2`` one worker starts them at once while the other runs the rest,
rather than the whole run waiting for them at its end."""


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))   # stable: the rest keep their order


def pytest_generate_tests(metafunc):
    names = backends(metafunc.config)
    if len(names) > 1 and "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", names, indirect=True, scope="session")


def _options(config, **extra) -> dict:
    opts = {}
    serial = config.getoption("--serial")
    if serial is not None:
        opts["serial"] = serial
    opts.update(extra)
    return opts


def _backend_options(config, name: str) -> dict:
    """Options of backend ``name`` itself, given to every device it opens (not choices of a test)."""
    simulator = config.getoption("--simulator")
    return {"simulator": simulator} if name == "rtl" and simulator is not None else {}


@pytest.fixture(scope="session")
def backend_name(request) -> str:
    """The backend of this test: the one ``--backend`` names, or this test's parameter where
    several are named."""
    return getattr(request, "param", None) or backends(request.config)[0]


@pytest.fixture(scope="session")
def open_backend(pytestconfig, backend_name):
    """Factory: opens more devices of the selected backend; all are closed at the end.

    ``open_backend(serial=..., ideal=True, faults=..., family="dynapse2")``. With ``--backend board``
    and no ``--board``/``--boards``, each call starts a virtual board (``hil serve``
    in its own process, on a free loopback port) with those options and connects
    to it over pyvisa. With them, ``open_backend()`` connects to the board this
    session leased (leasing it at the first call; a session that gets none fails
    its tests with the reason). A backend that cannot honour an option by design
    makes the test skip with its reason.
    """
    opened, processes = [], []
    pool = pytestconfig.stash[_BOARD_POOL]
    session_board = SessionBoard(pytestconfig, pool) if pool is not None else None

    def factory(**options):
        options = _options(pytestconfig, **options)
        if backend_name == "board":
            if session_board is not None:
                family = options.pop("family", None)
                if options:
                    pytest.skip(f"a real board ({session_board.describe()}) cannot be opened "
                                f"with {sorted(options)}")
                board = session_board.get()
                b = hil.backend.open("board", resource=board.resource, token=session_board.token,
                                     expected_serial=board.serial)
                if family is not None and b.family != family:
                    b.close()
                    pytest.skip(f"the session's board ({session_board.describe()}) holds a {b.family} chip, "
                                f"not a {family} one")
            else:
                proc = BoardProcess(**options)
                processes.append(proc)
                b = hil.backend.open("board", resource=proc.resource)
        else:
            try:
                b = hil.backend.open(backend_name, **options, **_backend_options(pytestconfig, backend_name))
            except (Unsupported, UnknownBackend, TypeError) as exc:
                pytest.skip(f"the {backend_name} backend cannot open with {sorted(options)}: {exc}")
        opened.append(b)
        return b

    yield factory
    for b in opened:
        b.close()
    for p in processes:
        p.close()
    if session_board is not None:
        session_board.release()


@pytest.fixture(scope="session")
def backend(open_backend):
    """The device under test (session-wide; its run counter advances across tests)."""
    return open_backend()


@pytest.fixture(scope="session")
def mac_shape(backend) -> tuple[int, int]:
    """(inputs, outputs) of one MAC run on the device under test: (128, 512) on the chip, less on
    a reduced RTL core."""
    from hil.bss2.types import mac_shape

    return mac_shape(backend.info().geometry)


@pytest.fixture(scope="session")
def require_mode(backend):
    """``require_mode("cadc")`` skips the test, with the reason, where the device under test
    does not run that mode by design (its declared ``info().modes``): suites never name a
    backend to skip it."""

    def check(mode: str) -> None:
        modes = backend.info().modes
        if mode not in modes:
            pytest.skip(f"{backend!r} does not run the {mode!r} mode (it runs {list(modes)})")

    return check


@pytest.fixture(scope="session")
def ideal_backend(open_backend):
    """The same backend without mismatch and noise: it must equal the analytical model."""
    return open_backend(ideal=True)


@pytest.fixture
def fresh_backend(open_backend):
    """A newly opened device of the selected serial, for tests that need run 0; closed after
    the test (an RTL simulation or a virtual board is a process)."""
    b = open_backend()
    yield b
    b.close()


@pytest.fixture(scope="session")
def results_store(pytestconfig, tmp_path_factory) -> ResultStore:
    """Where the suites' experiment runs are saved (``--results DIR`` to keep them)."""
    root = pytestconfig.getoption("--results")
    return ResultStore(root if root is not None else tmp_path_factory.mktemp("results"))
