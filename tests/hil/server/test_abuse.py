"""The board server under abuse (issue 12): one test per numbered defect, over raw sockets.

Each test reproduces what a hostile or broken client did and asserts the bounded
behaviour docs/protocol.md now states. Waits are on events (a connection ending,
an answer arriving); the only sleeps pace a client whose slowness is the attack.
"""
import errno
import json
import math
import re
import select
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import hil
from drivers import named_arrays, protocol
from drivers.blocks import encode_block
from hil.bss2 import CadcRamp, MacConfig, MacStimulus
from hil.contract import wire
from hil.contract.errors import InvalidValue

from .client import Client, block_cmd

MIB = 1 << 20


def raw_payload(header: dict, data: bytes = b"") -> bytes:
    """A named-array payload with any header, bypassing every client-side check."""
    text = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return named_arrays.MAGIC + len(text).to_bytes(4, "little") + text + data


def closed_by_server(c: Client) -> bool:
    """Whether the server has closed this connection (without waiting)."""
    try:
        if not select.select([c.sock], [], [], 0)[0]:
            return False
        return c.sock.recv(1, socket.MSG_PEEK) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def wait_closed(c: Client) -> bytes:
    """Reads until the server closes the connection (at most the client's time-out); returns what came."""
    out = c.buf
    while True:
        chunk = c.sock.recv(1 << 16)
        if not chunk:
            return out
        out += chunk


def wait_until(condition, timeout: float = 10.0) -> None:
    """Polls a condition of the server that no event announces."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# --- 1. a client that closes mid-command ------------------------------------------------

@pytest.mark.parametrize("partial", [b"*IDN", b"CONF #15ab", b"CONF #", b"READ? #9", b"SYST:ECHO? #3100xx",
                                     b"X" * 5000])
def test_a_client_closing_mid_command_costs_nothing_afterwards(make_board, partial):
    board = make_board()
    c = Client(board)
    assert c.query("*OPC?") == "1"                       # being served
    c.send(partial)
    c.sock.close()
    assert board.wait_idle(10), "the connection's thread ended (it used to spin on recv for ever)"
    assert board.server.budget.used == 0
    assert Client(board).query("*IDN?").startswith("hil-rig")


# --- 2. memory: budget, idle time, connections, send deadline -------------------------------

def test_a_readout_over_the_memory_budget_is_refused_naming_the_budget(make_board):
    board = make_board(memory_budget=4 * MIB + 4096, max_block=MIB)     # room for two 2-MiB readouts
    c = Client(board)
    c.send(block_cmd("READ?", CadcRamp(levels=np.array([100]), repeats=16384)))      # 8 MiB of codes
    assert c.block() == b""
    code, message = c.error()
    assert code == -225
    assert "the readout of 8388608 bytes does not fit the server's memory budget of 4198400 bytes" in message
    # Held readouts count for the whole server, and are given back when their connection ends.
    held = [Client(board), Client(board)]
    for h in held:
        h.send(block_cmd("RUN", CadcRamp(levels=np.array([100]), repeats=4096)))     # 2 MiB each, kept
        assert h.error() == (0, "No error")
    assert board.server.budget.used == 4 * MIB
    c.send(block_cmd("RUN", CadcRamp(levels=np.array([100]), repeats=16)))          # 8 KiB more
    assert c.error()[0] == -225, "the two held readouts use the whole budget"
    held.pop().sock.close()
    assert board.wait_idle(10, connections=2)
    assert board.server.budget.used == 2 * MIB
    c.send(block_cmd("RUN", CadcRamp(levels=np.array([100]), repeats=16)))
    assert c.error() == (0, "No error")


def test_a_block_over_the_memory_budget_is_read_and_refused(make_board):
    board = make_board(memory_budget=2 * MIB, max_block=2 * MIB)
    a, b = Client(board), Client(board)
    a.send(b"SYST:ECHO? #7" + b"%07d" % (1536 * 1024))          # a's block is held while it arrives
    wait_until(lambda: board.server.budget.used == 1536 * 1024)
    b.send(b"SYST:ECHO? " + encode_block(b"y" * MIB, limit=4 * MIB) + b"\n")
    assert b.block() == b""
    code, message = b.error()
    assert code == -225 and "a block of 1048576 bytes does not fit" in message
    a.send(b"x" * (1536 * 1024) + b"\n")
    assert a.block() == b"x" * (1536 * 1024)
    assert b.query("*IDN?").startswith("hil-rig")


def test_an_idle_connection_is_closed(make_board):
    board = make_board(idle_timeout_s=0.5)
    c = Client(board, timeout=10)
    assert wait_closed(c) == b"", "closed by the board (the client's own time-out is 10 s)"
    assert board.wait_idle(10)


def test_connections_beyond_the_cap_are_told_and_closed(make_board):
    board = make_board(max_connections=2)
    a, b = Client(board), Client(board)
    assert a.query("*IDN?") and b.query("*IDN?")
    c = Client(board)
    code, message = protocol.parse_error(wait_closed(c).decode("ascii"))
    assert code == 104 and "this board serves 2 at once" in message
    a.sock.close()
    assert board.wait_idle(10, connections=1)
    assert Client(board).query("*IDN?").startswith("hil-rig")


def test_a_client_that_does_not_take_its_answer_is_closed_at_the_send_deadline(make_board):
    board = make_board(send_timeout_s=0.5)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(board.address)
    stim = CadcRamp(levels=np.array([100]), repeats=65536)                       # 32 MiB of codes
    sock.sendall(block_cmd("READ?", stim))                                        # and never read
    assert board.wait_idle(30), "the blocked send gave up at its deadline"
    assert board.server.budget.used == 0
    sock.close()


# --- 3. never a silently wrong result -------------------------------------------------------

def test_a_run_after_another_connections_conf_is_refused_with_103(make_board):
    board = make_board(serial="EMU-GEN", ideal=True)
    w1 = MacConfig(weights=np.full((128, 512), 3))
    w2 = MacConfig(weights=np.full((128, 512), -5))
    stim = MacStimulus(inputs=np.full((2, 128), 7))
    a, b = Client(board), Client(board)
    a.send(block_cmd("CONF", w1))
    assert a.error() == (0, "No error")
    b.send(block_cmd("CONF", w2))
    assert b.error() == (0, "No error")
    a.send(block_cmd("READ?", stim))
    assert a.block() == b"", "a's configuration was replaced: no answer computed on b's weights"
    code, message = a.error()
    assert code == 103 and "replaced this connection's configuration" in message
    b.send(block_cmd("READ?", stim))
    assert len(b.block()) > 0, "b's own configuration still holds"
    a.send(block_cmd("CONF", w1) + block_cmd("READ?", stim))
    meta, arrays = named_arrays.unpack(a.block())
    with hil.backend.open("emulator", serial="EMU-GEN", ideal=True) as emu:
        np.testing.assert_array_equal(wire.decode(meta, arrays).outputs, emu.configure_and_run(w1, stim).outputs)
    b.send(b"*RST\n")
    assert b.query("*OPC?") == "1"
    a.send(block_cmd("RUN", stim))
    assert a.error()[0] == 103, "another connection's *RST replaces the configuration too"


# --- 4. leases ------------------------------------------------------------------------------

def test_any_command_of_the_owner_refreshes_the_lease(make_board):
    board = make_board(lease_timeout_s=1.0)
    owner, other = Client(board), Client(board)
    owner.send(b"LOCK tok-A\n")
    for _ in range(12):                                  # 2.4 s of *IDN? only: 2 lease time-outs
        assert owner.query("*IDN?").startswith("hil-rig")
        time.sleep(0.2)                                  # the owner's pace is the scenario
    other.send(b"LOCK tok-B\n")
    assert other.error()[0] == 100


def test_a_lease_taken_for_a_connection_ends_when_it_closes(make_board):
    board = make_board(lease_timeout_s=60)
    owner, other = Client(board), Client(board)
    owner.send(b"LOCK tok-A\n")
    assert owner.error() == (0, "No error")
    assert other.query("LOCK?") == "1"
    owner.sock.close()
    assert board.wait_idle(10, connections=1)
    assert other.query("LOCK?") == "0", "no 60-s wait for a lease whose owner has gone"
    other.send(b"LOCK tok-B\n")
    assert other.error() == (0, "No error")


def test_a_keep_lease_outlives_its_connection_until_it_expires(make_board):
    board = make_board(lease_timeout_s=0.5)
    keeper, other = Client(board), Client(board)
    keeper.send(b"LOCK tok-K,KEEP\n")
    assert keeper.error() == (0, "No error")
    keeper.sock.close()
    assert board.wait_idle(10, connections=1)
    other.send(b"LOCK tok-B\n")
    assert other.error()[0] == 100, "the lease outlived its connection"
    again = Client(board)
    again.send(b"LOCK tok-K\n" + block_cmd("CONF", MacConfig(weights=np.zeros((128, 512)))))
    assert again.error() == (0, "No error") and again.error() == (0, "No error"), "the token joins its lease"
    again.sock.close()
    assert board.wait_idle(10, connections=1)
    time.sleep(0.6)                                      # the lease time-out is the behaviour under test
    other.send(b"LOCK tok-B\n")
    assert other.error() == (0, "No error"), "a kept lease expires when its holders are quiet"
    other.send(b"LOCK tok-B,SHARE\n")
    assert other.error()[0] == -224


def test_wrong_tokens_close_the_connection_after_three(make_board):
    board = make_board()
    owner, guesser = Client(board), Client(board)
    owner.send(b"LOCK tok-A\n")
    assert owner.query("LOCK?") == "1"
    guesser.send(b"LOCK guess-1\nUNLOCK guess-2\n")
    assert [guesser.error()[0] for _ in range(2)] == [100, 101]
    assert guesser.query("*IDN?").startswith("hil-rig"), "two wrong tokens: still served"
    guesser.send(b"LOCK guess-3\nSYST:ERR?\n")
    assert wait_closed(guesser) == b"", "the third wrong token closes the connection"
    assert owner.error() == (0, "No error"), "the owner is not disturbed"


def test_limits_must_be_finite_and_in_range(make_board):
    for bad in (math.nan, math.inf, -1.0, 0.0):
        with pytest.raises(InvalidValue, match=r"lease_timeout_s: .* is not a finite number in 0\.1\.\.86400"):
            make_board(lease_timeout_s=bad)
    with pytest.raises(InvalidValue, match=r"max_connections: 0 is not a whole number in 1\.\.1024"):
        make_board(max_connections=0)
    limits = json.loads(Client(make_board()).query("SYST:LIM?"),
                        parse_constant=lambda c: pytest.fail(f"SYST:LIM? is not strict JSON: {c}"))
    assert limits == {"max_line_bytes": 4096, "error_queue": 32, "max_wrong_tokens": 3,
                      "max_block_bytes": 64 * MIB, "memory_budget_bytes": 256 * MIB, "max_connections": 16,
                      "lease_timeout_s": 60.0, "block_timeout_s": 30.0, "idle_timeout_s": 600.0,
                      "send_timeout_s": 30.0}


# --- 5. limits and time-outs as documented -----------------------------------------------------

def test_a_block_must_arrive_whole_within_the_block_deadline(make_board):
    board = make_board(block_timeout_s=0.5)
    c = Client(board)
    c.send(b"CONF #3100")
    for _ in range(100):                                 # 1 byte every 0.1 s: each recv is quick
        if closed_by_server(c):
            break
        try:
            c.send(b"x")
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.1)                                  # the trickle is the attack
    else:
        pytest.fail("a block trickled for 10 s was still being read")
    assert board.wait_idle(10)


class _OutOfFileDescriptors:
    """A listening socket whose accept() fails as at the process's fd limit."""

    def __init__(self, real: socket.socket):
        self.real = real

    def fileno(self) -> int:
        return self.real.fileno()

    def accept(self):
        raise OSError(errno.EMFILE, "Too many open files")

    def close(self) -> None:
        self.real.close()


class _RecordedWaits:
    """The accept loop's stop event: records each wait instead of waiting; set after ``n`` waits."""

    def __init__(self, n: int):
        self.n = n
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return len(self.waits) >= self.n

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False

    def set(self) -> None:
        self.n = 0


def test_the_accept_loop_backs_off_when_out_of_file_descriptors(make_board):
    """It used to retry at once, at 100% CPU: now it waits 10 ms, doubling up to 1 s."""
    board = make_board.unstarted()
    pending = socket.create_connection(board.address)    # the listener stays readable
    board._listener = _OutOfFileDescriptors(board._listener)
    board._stop = _RecordedWaits(10)
    board.serve_forever()
    assert board._stop.waits == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0, 1.0])
    assert board.accept_backoffs == 10
    pending.close()


_FD_LIMITED_SERVER = """
import os, resource, sys
import hil
from hil.server.tcp import VirtualBoard
board = VirtualBoard(hil.backend.open("emulator"), port=0).start()
resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 2, resource.getrlimit(
    resource.RLIMIT_NOFILE)[1]))
print(board.address[1], flush=True)
for _ in sys.stdin:
    print(board.accept_backoffs, flush=True)
"""


def test_a_board_at_its_file_descriptor_limit_serves_again_when_fds_free_up():
    proc = subprocess.Popen([sys.executable, "-c", _FD_LIMITED_SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)

    def backoffs() -> int:
        proc.stdin.write("?\n")
        proc.stdin.flush()
        return int(proc.stdout.readline())

    try:
        port = int(proc.stdout.readline())
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]   # more than fds left
        wait_until(lambda: backoffs() > 0)
        for s in clients:
            s.close()
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"*IDN?\n")
        assert c.recv(100).startswith(b"hil-rig,")
        c.close()
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()


def test_the_listen_backlog_takes_a_burst_of_connects(make_board):
    board = make_board()
    port = board.address[1]
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    backlog = int(out.split()[2])                        # Send-Q of a listening socket: its backlog
    assert backlog >= 128


# --- 6. answers and error codes ------------------------------------------------------------------

def test_every_query_is_answered_exactly_once(make_board):
    c = Client(make_board())
    c.send(b"*IDN? " + b"x" * 5000 + b"\n"                 # too long, with arguments
           + b"Y" * 5000 + b"?\n"                          # too long, one header
           + "*IDN? \u00e9\n".encode()                     # not ASCII
           + b"SYST:ECHO? x #13abc\n"                       # a malformed block command
           + b"\xff\xfe?\n"                                # garbage that is a query
           + b"READ? #x\n"                                 # a malformed block header
           + b"*OPC?\n")
    assert [c.line() for _ in range(7)] == [b"", b"", b"", b"#10", b"", b"#10", b"1"]
    assert [c.error()[0] for _ in range(6)] == [-363, -363, -102, -102, -102, -161]
    assert c.error() == (0, "No error")


def test_extra_arguments_are_refused_with_108(make_board):
    board = make_board()
    c = Client(board)
    c.send(b"*RST 1\n*CLS now\nLOCK\n")
    assert [c.error()[0] for _ in range(3)] == [-108, -108, -109]
    assert c.query("*IDN? 1") == ""
    code, message = c.error()
    assert code == -108 and "*IDN? takes no arguments; got '1'" in message


@pytest.mark.parametrize("header, data", [
    ({"meta": {"type": "os.system", "fields": {}}, "arrays": []}, b""),
    ({"meta": {"type": "bss2.MacConfig", "fields": {"bogus": 1}}, "arrays": []}, b""),
    ({"meta": {"type": "bss2.MacConfig", "fields": [1, 2]}, "arrays": []}, b""),
    ({"meta": {"type": "bss2.MacConfig", "fields": {}},
      "arrays": [{"name": "weights", "dtype": "|i1", "shape": [1 << 62, 1 << 62], "offset": 0, "nbytes": 0}]}, b""),
    ({"meta": {"type": "bss2.MacConfig", "fields": {}},
      "arrays": [{"name": "weights", "dtype": ["|i1"], "shape": [1], "offset": 0, "nbytes": 1}]}, b"\x00"),
])
def test_unknown_types_fields_and_malformed_headers_are_161(make_board, header, data):
    c = Client(make_board())
    c.send(b"CONF " + encode_block(raw_payload(header, data)) + b"\n")
    assert c.error()[0] == -161


def test_deeply_nested_json_is_161(make_board):
    c = Client(make_board())
    deep = b"[" * 100_000 + b"]" * 100_000
    c.send(b"CONF " + encode_block(named_arrays.MAGIC + len(deep).to_bytes(4, "little") + deep,
                                   limit=1 << 30) + b"\n")
    assert c.error()[0] == -161


def test_error_texts_are_ascii_with_the_rest_escaped(make_board):
    c = Client(make_board())
    header = {"meta": {"type": "bss2.MacConfig", "fields": {}},
              "arrays": [{"name": "w\u00e9ights", "dtype": "|i1", "shape": [1], "offset": 0, "nbytes": 1}]}
    c.send(b"CONF " + encode_block(raw_payload(header, b"\x00")) + b"\nSYST:ERR?\n")
    line = c.line()
    assert line.isascii()
    code, message = protocol.parse_error(line.decode("ascii"))
    assert code == -161 and "w\\xe9ights" in message


def test_the_limits_table_of_the_doc_names_every_limit_and_option(make_board):
    from pathlib import Path

    from hil.cli.boards import LIMIT_OPTIONS, limit_option

    doc = (Path(__file__).parents[3] / "docs" / "protocol.md").read_text("utf-8")
    section = doc.split("## Limits", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    reported = json.loads(Client(make_board()).query("SYST:LIM?"))
    assert sorted(keys) == sorted(reported)
    for name in LIMIT_OPTIONS:
        assert f"(`{limit_option(name)}`)" in section, name


def test_closing_the_board_ends_its_connections(make_board):
    board = make_board()
    c = Client(board, timeout=10)
    assert c.query("*IDN?").startswith("hil-rig")
    board.close()
    assert wait_closed(c) == b""
    assert board.connections == 0
