"""Load: 8 clients doing MACs on one virtual board for a bounded time.

With leases (``hil.backend.open`` leases by default) each client takes the
board's lease (one that finds it taken tries again), runs a MAC and closes,
which ends its lease at once. Without (``lease=False``) all 8 share the board
at once, and a run whose configuration another client replaced is refused
(BoardError 103). Either way every result must equal the ideal emulator of the
same serial: there are errors, never wrong results.
"""
import os
import threading
import time

import numpy as np
import pytest

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


@pytest.mark.parametrize("lease", [True, False], ids=["leased", "shared"])
def test_eight_clients_only_ever_get_right_results(lease):
    stats = {"runs": 0, "wrong": 0, "refused": 0, "errors": []}
    refusal = 100 if lease else 103          # lease taken by another / configuration replaced
    lock = threading.Lock()
    with BoardProcess(serial=SERIAL, ideal=True) as proc:
        stop = time.monotonic() + DURATION_S

        def client(index: int) -> None:
            rng = np.random.default_rng(index)
            with hil.backend.open("emulator", serial=SERIAL, ideal=True) as emu:
                shared = None if lease else hil.backend.open("board", resource=proc.resource, lease=False)
                while time.monotonic() < stop:
                    x = rng.integers(0, 32, (int(rng.integers(1, 64)), 128))
                    w = rng.integers(-63, 64, (128, 512))
                    try:
                        board = shared or hil.backend.open("board", resource=proc.resource)
                        try:
                            got = hil.bss2.mac(board, x, w)
                        finally:
                            if board is not shared:
                                board.close()
                    except BoardError as exc:
                        with lock:
                            stats["refused"] += exc.code == refusal
                            if exc.code != refusal:
                                stats["errors"].append(repr(exc))
                        time.sleep(0.001)         # let another client have its turn
                        continue
                    except Exception as exc:       # reported below; a thread must not die silently
                        with lock:
                            stats["errors"].append(repr(exc))
                        continue
                    right = np.array_equal(got, hil.bss2.mac(emu, x, w))
                    with lock:
                        stats["runs"] += 1
                        stats["wrong"] += not right
                if shared is not None:
                    shared.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss = _peak_rss_kib(proc.proc.pid)
    print(f"\nload ({'leased' if lease else 'shared'}): {CLIENTS} clients, {DURATION_S:g} s, {stats['runs']} MACs, "
          f"{stats['wrong']} wrong, {stats['refused']} refused with {refusal}, server peak RSS {rss / 1024:.0f} MiB")
    assert stats["errors"] == []
    assert stats["wrong"] == 0
    assert stats["runs"] >= CLIENTS
