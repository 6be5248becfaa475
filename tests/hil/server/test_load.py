"""Load: 8 clients with leases doing MACs on one virtual board for a bounded time.

Each client takes the board's lease (``hil.backend.open`` leases by default; a
client that finds it taken tries again), runs a MAC, and closes, which ends its
lease at once. Every result must equal the ideal emulator of the same serial.
"""
import os
import threading
import time

import numpy as np

import hil
from drivers.board import BoardError
from hil.server.process import BoardProcess

CLIENTS = 8
DURATION_S = float(os.environ.get("HIL_LOAD_SECONDS", "3"))
"""How long the clients run; a soak run sets more."""
SERIAL = "EMU-LOAD"


def _peak_rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_eight_leasing_clients_only_ever_get_right_results():
    stats = {"runs": 0, "wrong": 0, "busy": 0, "errors": []}
    lock = threading.Lock()
    with BoardProcess(serial=SERIAL, ideal=True) as proc:
        stop = time.monotonic() + DURATION_S

        def client(index: int) -> None:
            rng = np.random.default_rng(index)
            with hil.backend.open("emulator", serial=SERIAL, ideal=True) as emu:
                while time.monotonic() < stop:
                    x = rng.integers(0, 32, (int(rng.integers(1, 64)), 128))
                    w = rng.integers(-63, 64, (128, 512))
                    try:
                        board = hil.backend.open("board", resource=proc.resource)
                    except BoardError as exc:
                        assert exc.code == 100, exc
                        with lock:
                            stats["busy"] += 1
                        time.sleep(0.001)         # another client holds the lease: try again
                        continue
                    try:
                        got = hil.bss2.mac(board, x, w)
                    except Exception as exc:       # reported below; a thread must not die silently
                        with lock:
                            stats["errors"].append(repr(exc))
                        continue
                    finally:
                        board.close()
                    right = np.array_equal(got, hil.bss2.mac(emu, x, w))
                    with lock:
                        stats["runs"] += 1
                        stats["wrong"] += not right

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss = _peak_rss_kib(proc.proc.pid)
    print(f"\nload: {CLIENTS} clients, {DURATION_S:g} s, {stats['runs']} MACs, {stats['wrong']} wrong, "
          f"{stats['busy']} lease attempts found the board taken, server peak RSS {rss / 1024:.0f} MiB")
    assert stats["errors"] == []
    assert stats["wrong"] == 0
    assert stats["runs"] >= CLIENTS
