"""The lease pool: boards handed out one owner at a time, on virtual boards over loopback."""
import threading
import time

import pytest

import hil
from drivers.board import BoardDriver
from drivers.inventory import Board, Inventory
from drivers.pool import BoardSkipped, LeaseKeeper, NoFreeBoard, lease_any
from hil.server.limits import Limits
from hil.server.tcp import VirtualBoard
from tests.support import free_port

pytestmark = pytest.mark.board


# --- the pool -----------------------------------------------------------------------------

@pytest.fixture
def boards():
    """Three in-process virtual boards (threads), with a short lease time-out, and their inventory."""
    vbs = [VirtualBoard(hil.backend.open("emulator", serial=f"EMU-POOL-{i}"), port=0, limits=Limits(lease_timeout_s=0.6)).start()
           for i in range(3)]
    inv = Inventory([Board(f"vb-{i}", vb.resource, f"EMU-POOL-{i}", "bss2") for i, vb in enumerate(vbs)],
                    path="pool.toml")
    yield inv
    for vb in vbs:
        vb.close()


def test_lease_any_never_hands_out_a_leased_board(boards):
    held = []
    for i in range(3):
        board, driver = lease_any(boards, f"token-{i}")
        held.append((board, driver))
        assert driver.leased()
    assert [b.name for b, _ in held] == ["vb-0", "vb-1", "vb-2"]
    with pytest.raises(NoFreeBoard) as e:
        lease_any(boards, "token-3", start=1)
    r = [b.resource for b in boards]
    assert str(e.value) == (f"no free board in pool.toml for 'token-3' among 3: "
                            f"vb-1 ({r[1]}): leased by another owner; vb-2 ({r[2]}): leased by another owner; "
                            f"vb-0 ({r[0]}): leased by another owner")
    assert e.value.token == "token-3" and [s for _, s in e.value.states] == ["leased by another owner"] * 3
    assert isinstance(e.value, RuntimeError)
    # Closing the lease's driver releases it: the board is free again, and only that one.
    held[1][1].close()
    board, driver = lease_any(boards, "token-3")
    assert board.name == "vb-1"
    for _, d in held + [(board, driver)]:
        d.close()


def test_lease_any_starts_at_an_offset_and_wraps(boards):
    board, driver = lease_any(boards, "a", start=5)         # 5 mod 3 = 2
    assert board.name == "vb-2"
    board2, driver2 = lease_any(boards, "b", start=2)       # vb-2 is taken: wraps to vb-0
    assert board2.name == "vb-0"
    driver.close(), driver2.close()


def test_lease_any_refuses_a_board_whose_serial_differs(boards):
    swapped = Inventory([Board("vb-0", boards.boards[0].resource, "BSS2-0042", "bss2"), boards.boards[1]])
    with pytest.warns(BoardSkipped, match=r"vb-0 .* wrong serial: answers 'EMU-POOL-0', the inventory says "
                                          r"'BSS2-0042'"):
        board, driver = lease_any(swapped, "t")
    assert board.name == "vb-1"
    with BoardDriver(boards.boards[0].resource) as d:
        assert not d.leased()                                # the wrong board was not leased
    driver.close()
    with pytest.raises(NoFreeBoard, match="no board of family 'dynapse2' in pool.toml; its families: bss2"):
        lease_any(boards, "t", family="dynapse2")


def test_lease_any_skips_unreachable_boards():
    inv = Inventory([Board("gone", f"TCPIP::127.0.0.1::{free_port()}::SOCKET", "X", "bss2")])
    with pytest.warns(BoardSkipped), pytest.raises(NoFreeBoard, match=r"gone \(.*\): unreachable: Connection refused"):
        lease_any(inv, "t", timeout_s=2)


def test_racing_callers_each_get_a_different_board(boards):
    """Three threads lease from the same start at once: the board's LOCK is atomic, so they spread."""
    got, errors, barrier = [], [], threading.Barrier(3)

    def take(token):
        barrier.wait()
        try:
            got.append(lease_any(boards, token))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(f"racer-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(b.name for b, _ in got) == ["vb-0", "vb-1", "vb-2"]
    for _, d in got:
        d.close()


def test_a_quiet_lease_expires_and_a_kept_one_does_not(boards):
    board, driver = lease_any(boards, "quiet")
    time.sleep(1.0)                                          # the lease time-out is 0.6 s
    assert lease_any(boards, "next")[0] is board             # expired: the next caller gets it
    board2, driver2 = lease_any(boards, "kept", start=1)
    with LeaseKeeper(driver2, "kept", interval_s=0.15) as keeper:
        time.sleep(1.0)
        with pytest.raises(NoFreeBoard):
            lease_any(Inventory([board2]), "thief")
        assert keeper.refreshes >= 3 and keeper.error is None
    assert lease_any(Inventory([board2]), "after")[0] is board2   # closing the keeper released it
    driver.close()
