"""The board-protocol server's commands, spoken to over raw sockets.

These tests talk bytes, not pyvisa, so that they can send what a broken client
would: garbage, oversized blocks, half commands, vanishing mid-run.
"""
import json
import time

import numpy as np
import pytest

import hil
from drivers import named_arrays, protocol
from drivers.blocks import encode_block
from hil.bss2 import MacConfig, MacStimulus
from hil.contract import wire
from hil.server.faults import LinkFaults
from hil.server.limits import Limits
from hil.server.tcp import VirtualBoard

from .client import Client, block_cmd as _block_cmd

# --- the virtual board over raw sockets ------------------------------------------------

@pytest.fixture
def board():
    with VirtualBoard(hil.backend.open("emulator", serial="EMU-PROTO"), port=0,
                      limits=Limits(max_block=1 << 20, lease_timeout_s=0.5)) as b:
        yield b


def test_identity_and_system_queries(board):
    c = Client(board)
    assert c.query("*IDN?") == "hil-rig,BSS2-EMU,EMU-PROTO,emulator 0.1.0"
    assert c.query("SYST:VERS?") == "1"
    assert json.loads(c.query("SYST:LIM?"))["max_block_bytes"] == 1 << 20
    assert c.query("CHIP:FAM?") == "bss2"
    assert c.query("*idn?").startswith("hil-rig"), "headers are case-insensitive"
    assert c.error() == (0, "No error")


def test_malformed_commands_queue_errors_and_keep_the_connection(board):
    c = Client(board)
    c.send(b"BOGUS:CMD 1\n\xff\xfe\n\n")
    c.send(b"CONF\n")                                   # needs a block
    c.send(b"*RST #15hello\n")                          # takes none
    c.send(b"X" * 5000 + b"\n")                          # line too long
    assert [c.error()[0] for _ in range(6)] == [-113, -102, -102, -109, -108, -363]
    assert c.query("*IDN?").startswith("hil-rig")


def test_oversized_block_is_discarded_and_the_connection_stays_usable(board):
    c = Client(board)
    c.send(b"CONF " + encode_block(b"\n" * (2 << 20), limit=1 << 30) + b"\n")
    code, message = c.error()
    assert code == -223 and "exceeds the limit" in message
    c.send(b"READ? " + encode_block(b"x" * (2 << 20), limit=1 << 30) + b"\n")
    assert c.block() == b"", "a refused block query still gets its (empty) answer"
    assert c.error()[0] == -223
    assert c.query("*IDN?").startswith("hil-rig")


def test_bad_payloads_are_refused_with_the_field_named(board):
    c = Client(board)
    c.send(b"CONF #15hello\n")
    assert c.error()[0] == -161
    w = np.zeros((128, 512), np.int8)
    w[3, 4] = 100                                         # bypass client-side validation
    c.send(b"CONF " + encode_block(named_arrays.pack({"type": "bss2.MacConfig", "fields": {}}, {"weights": w}))
           + b"\n")
    code, message = c.error()
    assert code == -222 and "weights[3, 4]: 100 is outside the allowed range -63..63" in message
    c.send(b"CONF " + encode_block(named_arrays.pack({"type": "os.system", "fields": {}}, {})) + b"\n")
    assert "not a known type" in c.error()[1]


def test_run_over_the_socket_equals_the_emulator(board):
    rng = np.random.default_rng(5)
    cfg = MacConfig(weights=rng.integers(-63, 64, (128, 512)))
    stim = MacStimulus(inputs=rng.integers(0, 32, (20, 128)), num_sends=2)
    c = Client(board)
    c.send(_block_cmd("CONF", cfg))
    assert c.error() == (0, "No error")
    c.send(_block_cmd("READ?", stim))
    meta, arrays = named_arrays.unpack(c.block())
    out = wire.decode(meta, arrays).outputs
    with hil.backend.open("emulator", serial="EMU-PROTO") as emu:
        emu.configure(cfg)
        np.testing.assert_array_equal(out, emu.run(stim).outputs)


def test_fetch_without_run_is_error_102(board):
    c = Client(board)
    c.send(b"FETC?\n")
    assert c.block() == b""
    assert c.error()[0] == 102


def test_lease_keeps_other_clients_out_and_expires(board):
    owner, other = Client(board), Client(board)
    owner.send(b"LOCK tok-A\n")
    assert owner.error() == (0, "No error")
    assert other.query("LOCK?") == "1"
    other.send(b"LOCK tok-B\n")
    assert other.error()[0] == 100
    other.send(_block_cmd("CONF", MacConfig(weights=np.zeros((128, 512)))))
    assert other.error()[0] == 100
    assert other.query("*IDN?").startswith("hil-rig"), "queries stay open to everyone"
    other.send(b"UNLOCK tok-B\n")
    assert other.error()[0] == 101
    time.sleep(0.7)                                       # lease_timeout is 0.5 s
    other.send(b"LOCK tok-B\n")
    assert other.error() == (0, "No error"), "a stale lease expires"
    owner.send(b"RUN " + b"#10\n")
    assert owner.error()[0] == 100


def test_client_vanishing_mid_run_does_not_wedge_the_board(board):
    c = Client(board)
    c.send(_block_cmd("CONF", MacConfig(weights=np.ones((128, 512)))))
    c.send(_block_cmd("READ?", MacStimulus(inputs=np.ones((4096, 128)))))
    c.sock.close()                                        # gone before the answer
    half = Client(board)
    half.send(b"CONF #6100000" + b"x" * 10)               # and one that stops mid-block
    half.sock.close()
    d = Client(board)
    assert d.query("*IDN?").startswith("hil-rig")
    d.send(_block_cmd("CONF", MacConfig(weights=np.ones((128, 512)))))
    assert d.error() == (0, "No error")


def test_drop_after_n_commands():
    with VirtualBoard(hil.backend.open("emulator"), port=0, link_faults=LinkFaults(drop_after=2)) as b:
        c = Client(b)
        assert c.query("*IDN?")
        assert c.query("SYST:VERS?") == "1"
        with pytest.raises(ConnectionError):
            c.query("*IDN?")
        assert Client(b).query("SYST:VERS?") == "1", "a new connection is served again"


def test_read_behind_a_refused_conf_never_runs_on_the_old_configuration(board):
    """CONF, SYST:ERR? and READ? pipelined: when the CONF is refused, so is the READ?."""
    c = Client(board)
    c.send(_block_cmd("CONF", MacConfig(weights=np.ones((128, 512)))))
    assert c.error() == (0, "No error")
    bad = np.zeros((128, 512), np.int8)
    bad[0, 0] = 99
    c.send(b"CONF " + encode_block(named_arrays.pack({"type": "bss2.MacConfig", "fields": {}}, {"weights": bad}))
           + b"\nSYST:ERR?\n" + _block_cmd("READ?", MacStimulus(inputs=np.ones((1, 128)))))
    assert protocol.parse_error(c.line().decode())[0] == -222
    assert c.block() == b"", "the READ? is refused, not run on the previous weights"
    code, message = c.error()
    assert code == 102 and "last CONF" in message
    c.send(_block_cmd("CONF", MacConfig(weights=np.ones((128, 512)))))
    c.send(_block_cmd("READ?", MacStimulus(inputs=np.ones((1, 128)))))
    assert len(c.block()) > 0, "a CONF that succeeds lifts the refusal"
