"""``hil boards``: every board of an inventory probed, in a table."""
import re

import pytest

import hil
from drivers.board import BoardDriver
from hil.cli import main
from hil.server.process import BoardProcess
from tests.support import ENTRY, free_port, write_inventory

pytestmark = pytest.mark.board


# --- hil boards ---------------------------------------------------------------------------

def table_rows(out: str) -> dict[str, list[str]]:
    """The `hil boards` table as {name: [cells]}; cells are separated by two or more spaces."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("name "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip() or line.endswith("boards ok"):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def test_hil_boards_probes_every_board(tmp_path, capsys):
    with BoardProcess(serial="EMU-INV-1") as a, BoardProcess(serial="EMU-INV-2") as b, \
            BoardProcess(serial="EMU-SWAPPED") as c:
        gone = f"TCPIP::127.0.0.1::{free_port()}::SOCKET"
        inv = write_inventory(tmp_path / "inventory.toml", [
            ("vb-1", a.resource, "EMU-INV-1"), ("vb-2", b.resource, "EMU-INV-2"),
            ("gone", gone, "EMU-INV-3"), ("swapped", c.resource, "EMU-INV-4")])
        with BoardDriver(b.resource) as holder:
            holder.lock("someone-else")          # a board in use is still ok, and shown as leased
            code = main(["boards", "--inventory", str(inv), "--timeout", "2"])
            out = capsys.readouterr().out
            assert holder.leased()               # probing did not take or break the lease
    firmware = f"emulator {hil.__version__}"
    assert table_rows(out) == {
        "vb-1": ["vb-1", a.resource, "EMU-INV-1", "EMU-INV-1", firmware, "no", "ok"],
        "vb-2": ["vb-2", b.resource, "EMU-INV-2", "EMU-INV-2", firmware, "yes", "ok"],
        "gone": ["gone", gone, "EMU-INV-3", "-", "-", "-", "unreachable: Connection refused"],
        "swapped": ["swapped", c.resource, "EMU-INV-4", "EMU-SWAPPED", firmware, "no", "wrong serial"],
    }
    assert out.splitlines()[0] == f"inventory: {inv}"
    assert out.splitlines()[1].split() == ["name", "resource", "expected", "serial", "answered", "serial",
                                           "firmware", "leased", "status"]
    assert out.rstrip().endswith("2 of 4 boards ok")
    assert code == 1


def test_hil_boards_exit_codes(tmp_path, capsys, monkeypatch):
    with BoardProcess(serial="EMU-INV-1") as a:
        inv = write_inventory(tmp_path / "inventory.toml", [("vb-1", a.resource, "EMU-INV-1")])
        monkeypatch.setenv("HIL_INVENTORY", str(inv))        # the default inventory
        assert main(["boards"]) == 0
        assert table_rows(capsys.readouterr().out)["vb-1"][-1] == "ok"
    (tmp_path / "bad.toml").write_text("[[board]]\n" + ENTRY.replace("5025::", ""))
    assert main(["boards", "--inventory", str(tmp_path / "bad.toml")]) == 2
    assert capsys.readouterr().err == (f"hil boards: error: {tmp_path / 'bad.toml'}: board 'bench-1' (#1): "
                                       "key 'resource': 'TCPIP::10.0.0.5::SOCKET' is not of the form "
                                       "TCPIP::<host>::<port>::SOCKET\n")
    assert main(["boards", "--timeout", "0"]) == 2


# --- hil serve ------------------------------------------------------------------------------

def test_hil_serve_warns_when_bound_beyond_loopback():
    with BoardProcess(extra_args=("--host", "0.0.0.0")) as proc:
        assert ("hil serve: warning: listening on 0.0.0.0, not on loopback: the board protocol has no "
                "authentication") in proc.startup_output
    with BoardProcess() as proc:
        assert "warning" not in proc.startup_output


@pytest.mark.parametrize("option, value, allowed", [
    ("--lease-timeout", "nan", "is outside 0.1..86400 seconds"),
    ("--lease-timeout", "inf", "is outside 0.1..86400 seconds"),
    ("--lease-timeout", "-1", "is outside 0.1..86400 seconds"),
    ("--max-connections", "0", "is outside 1..1024 connections"),
    ("--memory-budget", "1e3", "is not a whole number of bytes; allowed: 1048576..68719476736"),
    ("--idle-timeout", "nan", "is outside 0.1..86400 seconds"),
    ("--port", "70000", "is outside 0..65535 port"),
])
def test_hil_serve_refuses_limits_that_are_not_finite_or_out_of_range(capsys, option, value, allowed):
    assert main(["serve", "--port", "0", option, value]) == 2      # the last --port counts
    assert f"argument {option}: '{value}' {allowed}" in capsys.readouterr().err
