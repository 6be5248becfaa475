"""Random and mutated command streams against one board (hypothesis, bounded and derandomized).

After every case the server must answer ``*IDN?`` on a new connection, serve no
connection any more (so no thread of it can be busy), and hold nothing of the
memory budget; its peak stays within the budget. Streams of text lines must get
exactly one answer per query, as docs/protocol.md defines a query.
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


# --- every query answered exactly once ------------------------------------------------------------

_HEADERS = [b"*IDN?", b"SYST:ERR?", b"*OPC?", b"LOCK?", b"FETC?", b"READ?", b"SYST:ECHO?", b"CHIP:FAM?",
            b"SYST:LIM?", b"*RST", b"*CLS", b"BOGUS?", b"BOGUS", b"conf", b"run", b"*idn?"]
_BYTES = st.sampled_from(list(b"AZaz09:*?? \t\r") + [0xE9, 0xFF, 0x1C, 0x00])


def _answered(line: bytes) -> bool:
    """Whether docs/protocol.md says this line (without its LF) gets an answer: a line whose
    first word ends in '?'; over 4096 bytes with no space in its first 4096, if it ends in '?'."""
    if len(line) > 4096:
        head = line[:4097].strip()
        if b" " in head[:4096]:
            return head.split(b" ", 1)[0].endswith(b"?")
        return line.rstrip(b"\r")[-1:] == b"?"
    line = line.rstrip(b"\r")
    if line.isascii():
        return line.decode().strip().partition(" ")[0].endswith("?")
    return line.strip().split(b" ", 1)[0].endswith(b"?")


@st.composite
def text_line(draw) -> bytes:
    head = draw(st.sampled_from(_HEADERS) | st.lists(_BYTES, max_size=12).map(bytes))
    tail = draw(st.lists(_BYTES, max_size=12).map(bytes))
    pad = draw(st.sampled_from([0, 0, 0, 4090, 5000]))
    line = head + (b" " + tail if draw(st.booleans()) else tail) + b"x" * pad + draw(st.sampled_from([b"", b"?"]))
    if line.strip().split(b" ", 1)[0].upper().rstrip(b"\r") in (b"LOCK", b"UNLOCK") or b"#" in line:
        return b"*OPC?"                 # no leases (wrong tokens close), no blocks (answers of other sizes)
    return line


@settings(max_examples=EXAMPLES // 2, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(lines=st.lists(text_line(), min_size=1, max_size=12))
def test_every_query_gets_exactly_one_answer(fuzz_board, lines):
    CASES["tried"] += 1
    c = Client(fuzz_board, timeout=10)
    c.send(b"".join(line + b"\n" for line in lines) + b"*OPC?\n")
    expected = sum(map(_answered, lines))
    answers = [c.line() for _ in range(expected + 1)]
    assert answers[-1] == b"1", f"{expected} answers expected before the final *OPC?: {answers}"
    assert c.query("SYST:VERS?") == "1" and c.buf == b"", "and no answer more"
    c.sock.close()
