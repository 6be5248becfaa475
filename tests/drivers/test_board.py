"""The board path under stress: real `hil serve` processes, real pyvisa-py sockets."""
import re
import warnings

import hil.experiment
import numpy as np
import pytest

import hil
from drivers.board import (
    BoardDriver,
    BoardError,
    ConfigurationLost,
    ConnectionLost,
    Reconnected,
    RunInterrupted,
)
from drivers import named_arrays
from drivers.blocks import encode_block
from hil.bss2 import MacConfig, MacStimulus
from hil.results.store import ResultStore
from hil.server.faults import LinkFaults
from hil.server.limits import Limits
from hil.server.process import BoardProcess
from hil.server.tcp import VirtualBoard

pytestmark = pytest.mark.board

rng = np.random.default_rng(21)
X = rng.integers(0, 32, (64, 300))
W = rng.integers(-63, 64, (300, 700))


def test_virtual_board_is_bit_identical_to_the_emulator_of_its_serial():
    with BoardProcess(serial="EMU-0031") as proc, \
            hil.backend.open("board", resource=proc.resource) as board, \
            hil.backend.open("emulator", serial="EMU-0031") as emu:
        for num_sends in (1, 3):
            np.testing.assert_array_equal(hil.bss2.mac(board, X, W, num_sends=num_sends),
                                          hil.bss2.mac(emu, X, W, num_sends=num_sends))
        a = hil.experiment.run("bss2.mac_noise", board)
        b = hil.experiment.run("bss2.mac_noise", emu)
        np.testing.assert_array_equal(a.raw["samples"], b.raw["samples"])
        assert board.info().serial == "EMU-0031" and board.info().backend == "board"


def test_board_errors_carry_the_boards_own_text():
    with BoardProcess() as proc, BoardDriver(proc.resource) as drv:
        with pytest.raises(BoardError) as e:
            drv.write("NO:SUCH:THING")
        assert e.value.code == -113 and "undefined header 'NO:SUCH:THING'" in e.value.message
        assert drv.errors() == []


def test_timeouts_are_configurable_and_reported():
    with BoardProcess(extra_args=("--fault", "slow=0.5")) as proc:
        with pytest.raises(ConnectionLost, match=r"could not connect to .*: no answer to \*IDN\? within 0\.1 s"):
            BoardDriver(proc.resource, timeout_s=0.1)
        with BoardDriver(proc.resource, timeout_s=5) as drv:
            assert drv.identity().vendor == "hil-rig"
    with pytest.raises(ValueError, match="timeout_s"):
        BoardDriver("TCPIP::127.0.0.1::1::SOCKET", timeout_s=0)


def test_dropped_connection_is_reconnected_once_and_reported():
    """The board drops every connection at its 5th command: side-effect-free commands
    are repeated once with a warning; a run is never repeated."""
    with VirtualBoard(hil.backend.open("emulator"), port=0, link_faults=LinkFaults(drop_after=4)) as vb:
        # pyvisa-py sees a closed socket only when its read times out: keep that short.
        drv = BoardDriver(vb.resource, timeout_s=1.0)      # command 1: *IDN?
        for _ in range(3):                                   # commands 2..4
            drv.identity()
        with pytest.warns(Reconnected):
            assert drv.identity().model == "BSS2-EMU"
        assert drv.reconnects == 1                           # new connection: *IDN?, *IDN?
        header = {"type": "bss2.MacConfig", "fields": {}}
        drv.configure(header, {"weights": np.zeros((128, 512), np.int8)})   # CONF, SYST:ERR?
        stim = {"type": "bss2.MacStimulus", "fields": {"num_sends": 1, "wait_between_events": 5}}
        with pytest.raises(RunInterrupted, match="not repeated"):
            drv.read(stim, {"inputs": np.zeros((1, 128), np.uint8)})
        assert drv.reconnects == 2
        drv.close()


def test_board_that_goes_away_is_a_clear_error():
    proc = BoardProcess()
    drv = BoardDriver(proc.resource, timeout_s=2)
    assert drv.identity()
    proc.close()
    with pytest.raises(ConnectionLost, match="reconnect failed"):
        drv.identity()


def test_board_restarted_mid_suite_fails_the_run_and_keeps_the_stored_ones(tmp_path):
    store = ResultStore(tmp_path / "results")
    proc = BoardProcess(serial="EMU-RESTART")
    board = hil.backend.open("board", resource=proc.resource)
    first = hil.experiment.run("bss2.mac_gain", board, store=store)
    proc.close()                                          # the board goes down mid-suite
    with pytest.raises((ConnectionLost, RunInterrupted)):
        hil.experiment.run("bss2.mac_gain", board, store=store)
    runs = store.runs()
    assert [r.status for r in runs] == ["error", first.verdict.passed and "pass" or "fail"]
    assert "Connection" in runs[0].error or "Run" in runs[0].error
    back = store.load(runs[1].run_id)
    np.testing.assert_array_equal(back.raw["run0"], first.raw["run0"])


def test_two_workers_contend_for_one_board():
    with BoardProcess() as proc:
        a = hil.backend.open("board", resource=proc.resource, token="worker-a")
        b = hil.backend.open("board", resource=proc.resource, lease=False)
        with pytest.raises(BoardError) as e:
            b.driver.lock("worker-b")
        assert e.value.code == 100
        with pytest.raises(BoardError) as e:
            b.configure(MacConfig(weights=np.zeros((128, 512))))
        assert e.value.code == 100
        a.configure(MacConfig(weights=np.ones((128, 512))))
        assert a.run(MacStimulus(inputs=np.ones((1, 128)))).outputs.shape == (1, 512)
        a.close()                                         # releases the lease
        b.driver.lock("worker-b")
        b.configure(MacConfig(weights=np.zeros((128, 512))))
        b.close()


def test_validation_errors_over_the_wire_name_the_field():
    with BoardProcess() as proc, hil.backend.open("board", resource=proc.resource) as board:
        with pytest.raises(ValueError, match=r"x\[1\]: 40 is outside the allowed range 0\.\.31"):
            hil.bss2.mac(board, np.array([1, 40]), np.zeros((2, 2)))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            hil.bss2.mac(board, np.array([1, 4]), np.ones((2, 2)))


def test_configure_and_run_is_one_round_trip_and_raises_the_conf_error():
    with BoardProcess(serial="EMU-PIPE") as proc, \
            hil.backend.open("board", resource=proc.resource, lease=False) as board, \
            hil.backend.open("emulator", serial="EMU-PIPE") as emu:
        cfg = MacConfig(weights=rng.integers(-63, 64, (128, 512)))
        stim = MacStimulus(inputs=rng.integers(0, 32, (8, 128)))
        np.testing.assert_array_equal(board.configure_and_run(cfg, stim).outputs,
                                      emu.configure_and_run(cfg, stim).outputs)
        other = hil.backend.open("board", resource=proc.resource, token="holder")
        try:
            with pytest.raises(BoardError) as e:
                board.configure_and_run(cfg, stim)
            assert e.value.code == 100 and e.value.command == "CONF"
        finally:
            other.close()


# --- issue 12: what the driver makes of a hardened board -------------------------------------------

def test_a_refused_connection_says_it_could_not_connect():
    resource = "TCPIP::127.0.0.1::1::SOCKET"
    with pytest.raises(ConnectionLost) as e:
        BoardDriver(resource, timeout_s=2)
    message = str(e.value)
    assert message.startswith(f"could not connect to {resource}: ") and "Connection refused" in message
    assert message.count(resource) == 1 and "reconnect" not in message


def test_a_board_at_its_connection_limit_is_a_board_error():
    with VirtualBoard(hil.backend.open("emulator"), port=0, limits=Limits(max_connections=1)) as vb, \
            BoardDriver(vb.resource) as first:
        assert first.identity().vendor == "hil-rig"
        with pytest.raises(BoardError) as e:
            BoardDriver(vb.resource)
        assert e.value.code == 104 and "serves 1 at once" in e.value.message


def test_opening_a_board_leases_it_until_closed():
    with BoardProcess() as proc:
        owner = hil.backend.open("board", resource=proc.resource)
        assert re.fullmatch(r"hil-[0-9a-f]{32}", owner.driver._token), "128 random bits"
        with pytest.raises(BoardError) as e:
            hil.backend.open("board", resource=proc.resource)
        assert e.value.code == 100
        owner.close()
        hil.backend.open("board", resource=proc.resource).close()   # at once: no wait for an expiry
        with pytest.raises(ValueError, match="token: a token leases the board"):
            hil.backend.open("board", resource=proc.resource, lease=False, token="t")


def test_unleased_clients_get_an_error_never_a_wrong_result():
    """Defect 3 of issue 12: two clients without a lease on one --ideal board."""
    rng = np.random.default_rng(12)
    weights = [rng.integers(-63, 64, (128, 512)) for _ in range(2)]
    x = rng.integers(0, 32, (4, 128))
    with BoardProcess(serial="EMU-SHARE", ideal=True) as proc, \
            hil.backend.open("emulator", serial="EMU-SHARE", ideal=True) as emu:
        expected = [hil.bss2.mac(emu, x, w) for w in weights]
        a, b = (hil.backend.open("board", resource=proc.resource, lease=False) for _ in range(2))
        a.configure(MacConfig(weights=weights[0]))
        b.configure(MacConfig(weights=weights[1]))
        with pytest.raises(BoardError) as e:
            a.run(MacStimulus(inputs=x))
        assert e.value.code == 103 and e.value.command == "READ?"
        np.testing.assert_array_equal(b.run(MacStimulus(inputs=x)).outputs, expected[1])
        a.close()
        b.close()


def test_non_ascii_in_an_error_reaches_the_caller_as_a_board_error():
    import json

    header = json.dumps({"meta": {"type": "bss2.MacConfig", "fields": {}}, "arrays": [
        {"name": "w\u00e9ights", "dtype": "|i1", "shape": [1], "offset": 0, "nbytes": 1}]},
        ensure_ascii=False).encode()
    payload = named_arrays.MAGIC + len(header).to_bytes(4, "little") + header + b"\0"
    with BoardProcess() as proc, BoardDriver(proc.resource) as drv:
        drv._write(b"CONF " + encode_block(payload))
        with pytest.raises(BoardError) as e:
            drv._check("CONF")
        assert e.value.code == -161 and "w\\xe9ights" in e.value.message


def test_a_connection_the_board_closed_while_idle_is_reopened_and_a_stale_configuration_refused():
    with VirtualBoard(hil.backend.open("emulator", serial="EMU-IDLE"), port=0,
                      limits=Limits(idle_timeout_s=1.0)) as vb, \
            hil.backend.open("emulator", serial="EMU-IDLE") as emu:
        board = hil.backend.open("board", resource=vb.resource)
        cfg = MacConfig(weights=rng.integers(-63, 64, (128, 512)))
        stim = MacStimulus(inputs=rng.integers(0, 32, (4, 128)))
        board.configure(cfg)
        assert vb.wait_idle(10), "the board closed the idle connection (and its lease with it)"
        with pytest.raises(ConfigurationLost, match="configure again"):
            board.run(stim)
        assert board.driver.reconnects == 1
        np.testing.assert_array_equal(board.configure_and_run(cfg, stim).outputs,
                                      emu.configure_and_run(cfg, stim).outputs)
        assert vb.wait_idle(10)
        np.testing.assert_array_equal(hil.bss2.mac(board, X, W), hil.bss2.mac(emu, X, W)), \
            "no RunInterrupted: the closed connection is noticed before the run is sent"
        board.close()


_HOLDER = """
import sys
import hil
backend = hil.backend.open("board", resource=sys.argv[1], token="hil-" + "0" * 32)   # as `hil run` leases
print("leased", flush=True)
sys.stdin.read()
"""


def test_a_killed_owner_leaves_the_board_free_at_once():
    """Issue 12: a user who interrupts `hil run` and runs it again used to wait 60 s for its lease."""
    import subprocess
    import sys

    with VirtualBoard(hil.backend.open("emulator"), port=0, limits=Limits(lease_timeout_s=3600)) as vb:
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, vb.resource], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline() == "leased\n"
        holder.kill()
        holder.wait()
        assert vb.wait_idle(10)
        hil.backend.open("board", resource=vb.resource).close()
