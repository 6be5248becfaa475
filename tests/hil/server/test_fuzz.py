"""Random and mutated command streams against one board (hypothesis, bounded and derandomized).

After every case the server must answer ``*IDN?`` on a new connection, serve no
connection any more (so no thread of it can be busy), and hold nothing of the
memory budget; its peak stays within the budget.
"""
import os
import socket
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil.bss2 import CadcRamp, MacConfig, MacStimulus

from .client import Client, block_cmd

EXAMPLES = int(os.environ.get("HIL_FUZZ_EXAMPLES", "400"))
"""Cases per run; CI runs the default, a soak run sets more."""
CASES = {"tried": 0}

_VALID = [
    b"*IDN?\n", b"*RST\n", b"*CLS\n", b"*OPC?\n", b"SYST:ERR?\n", b"SYST:LIM?\n", b"SYST:VERS?\n",
    b"CHIP:FAM?\n", b"CHIP:INFO?\n", b"LOCK?\n", b"LOCK fuzz-a\n", b"LOCK fuzz-a,KEEP\n", b"UNLOCK fuzz-a\n",
    b"LOCK fuzz-b\n", b"FETC?\n", b"SYST:ECHO? #15hello\n",
    block_cmd("CONF", MacConfig(weights=np.ones((128, 512)))),
    block_cmd("READ?", MacStimulus(inputs=np.full((3, 128), 5))),
    block_cmd("RUN", MacStimulus(inputs=np.full((1, 128), 31), num_sends=4)),
    block_cmd("READ?", CadcRamp(levels=np.arange(0, 1000, 100), repeats=8)),
    block_cmd("RUN", CadcRamp(levels=np.array([500]), repeats=4096)),        # 2 MiB: over the budget
]


@st.composite
def mutated(draw) -> bytes:
    """A valid command with a few bytes flipped, cut, inserted or repeated."""
    cmd = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(cmd)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        if op == "flip" and i < len(cmd):
            cmd[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del cmd[i:]
        elif op == "insert":
            cmd[i:i] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"\n", b" #", b"#9", b"?", b"\xff"]))
        else:
            cmd[i:i] = cmd[max(0, i - 8):i]
    return bytes(cmd)


streams = st.lists(st.sampled_from(_VALID) | st.binary(max_size=64) | mutated(), max_size=16).map(b"".join)


def _exchange(board, data: bytes) -> None:
    """Sends ``data`` (from a thread, so that answers never back up into the sender), then
    closes the sending side and takes every answer until the board closes."""
    sock = socket.create_connection(board.address, timeout=10)

    def send():
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:         # the board closed first (three wrong tokens)
            pass

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while sock.recv(1 << 16):
            pass
    except ConnectionResetError:
        pass
    sender.join()
    sock.close()


@pytest.fixture(scope="module")
def fuzz_board():
    import hil
    from hil.server.limits import Limits
    from hil.server.tcp import VirtualBoard

    limits = Limits(max_block=128 * 1024, memory_budget=1 << 20, block_timeout_s=2.0, lease_timeout_s=0.5,
                    send_timeout_s=2.0)
    with VirtualBoard(hil.backend.open("emulator", serial="EMU-FUZZ"), port=0, limits=limits) as board:
        yield board
    print(f"\nfuzz: {CASES['tried']} cases tried, budget peak {board.server.budget.peak} of "
          f"{limits.memory_budget} bytes")


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=streams)
def test_random_and_mutated_streams_leave_the_board_serving(fuzz_board, data):
    CASES["tried"] += 1
    _exchange(fuzz_board, data)
    assert fuzz_board.wait_idle(10), "a connection is still being served after its client left"
    budget = fuzz_board.server.budget
    assert budget.used == 0 and budget.peak <= budget.limit
    probe = Client(fuzz_board)
    assert probe.query("*IDN?") == "hil-rig,BSS2-EMU,EMU-FUZZ,emulator 0.1.0"
    probe.sock.close()
