"""Boards for pytest sessions: the pool given by ``--board`` / ``--boards`` and the
board each session (each pytest-xdist worker) leases from it. Used by the root
conftest.py; see docs/boards.md.
"""
import re
import socket
from pathlib import Path

import pytest

from drivers.inventory import (Board, Inventory, InventoryError, UnknownBoard, default_inventory_path,
                               is_resource, load_inventory)
from drivers.pool import LeaseKeeper, NoFreeBoard, lease_any
from drivers.protocol import new_token


def board_pool(config) -> Inventory | None:
    """The boards this run may lease (``--board``: one; ``--boards``: the inventory), or None:
    virtual boards. A bad option or inventory stops the run before any test (and any worker) starts."""
    board, boards = config.getoption("--board"), config.getoption("--boards")
    if board is None and boards is None:
        return None
    if "board" not in (config.getoption("--backend") or ()):
        raise pytest.UsageError("--board and --boards select boards: they need --backend board")
    path = Path(boards) if boards is not None else default_inventory_path()
    try:
        if board is None:
            return load_inventory(path)
        if is_resource(board):
            # A resource is used as it is; if an inventory knows it, its serial is checked too.
            known = load_inventory(path) if boards is not None or path.exists() else Inventory([])
            found = next((b for b in known if b.resource == board), Board.from_resource(board))
            return Inventory([found], path=known.path)
        return Inventory([load_inventory(path).find(board)], path=path)
    except (InventoryError, UnknownBoard) as exc:
        which = "--board" if board is not None else "--boards"
        raise pytest.UsageError(f"{which}: {exc}") from None


def worker(config) -> tuple[str, int, int]:
    """(worker id, index, worker count): pytest-xdist's ``gw<N>``, or ``master`` without xdist.
    Read where xdist's own ``worker_id`` fixture reads it, so session fixtures need no request."""
    info = getattr(config, "workerinput", None)
    if info is None:
        return "master", 0, 1
    wid = info["workerid"]
    index = int(wid[2:]) if re.fullmatch(r"gw\d+", wid) else 0
    return wid, index, int(info.get("workercount", 1))


def lease_token(worker_id: str) -> str:
    """``pytest-<worker>-<host>-<32 hex digits>``: 128 random bits (a token is a bearer secret),
    and a prefix that says whose it is (protocol: 1..64 of [A-Za-z0-9_.-])."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])
    return new_token(f"pytest-{worker_id}-{host}"[:31])


class SessionBoard:
    """The board this session leased from the pool: taken at first use, kept alive (the lease
    would expire while tests that need no board run), released at the end of the session."""

    def __init__(self, config, pool: Inventory):
        self.pool = pool
        self.worker, self.index, self.workers = worker(config)
        self.token = lease_token(self.worker)
        self.board: Board | None = None
        self._keeper: LeaseKeeper | None = None
        self._failure: str | None = None

    def describe(self) -> str:
        if self.board is None and len(self.pool) > 1:
            return f"one of {self.pool.path}"
        b = self.board or self.pool.boards[0]
        return b.resource if b.name == b.resource else f"{b.name}, {b.resource}"

    def get(self) -> Board:
        if self._failure is not None:
            pytest.fail(self._failure, pytrace=False)
        if self.board is None:
            try:
                board, driver = lease_any(self.pool, self.token, start=self.index)
            except NoFreeBoard as exc:
                hint = ""
                if self.workers > len(self.pool):
                    hint = (f" ({self.workers} workers for {len(self.pool)} board(s): "
                            f"run with -n {len(self.pool)} or fewer, or add boards)")
                self._failure = f"{self.worker} could not lease a board: {exc}{hint}"
            if self._failure is not None:     # failed outside the except: no chained traceback
                pytest.fail(self._failure, pytrace=False)
            self._keeper = LeaseKeeper(driver, self.token)
            self.board = board
        return self.board

    def release(self) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None
