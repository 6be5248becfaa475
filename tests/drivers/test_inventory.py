"""The board inventory file, and probing its boards."""

import pytest

from drivers.inventory import Board, InventoryError, UnknownBoard, load_inventory, probe
from tests.support import ENTRY

pytestmark = pytest.mark.board


# --- the inventory file -------------------------------------------------------------------

GOOD = '''
[[board]]
name = "bench-1"
resource = "TCPIP::10.0.0.5::5025::SOCKET"
serial = "BSS2-0042"
family = "bss2"
description = "rack 2, slot 3"

[[board]]
name = "bench-2"
resource = "TCPIP::lab-bss2-7.example.org::5025::SOCKET"
serial = "BSS2-0043"
family = "bss2"
'''


def test_inventory_loads_boards_in_order_and_finds_them(tmp_path):
    path = tmp_path / "inventory.toml"
    path.write_text(GOOD)
    inv = load_inventory(path)
    assert inv.names == ["bench-1", "bench-2"] and len(inv) == 2 and inv.path == str(path)
    b = inv.find("bench-1")
    assert b == Board("bench-1", "TCPIP::10.0.0.5::5025::SOCKET", "BSS2-0042", "bss2", "rack 2, slot 3")
    assert inv.find("TCPIP::lab-bss2-7.example.org::5025::SOCKET").name == "bench-2"
    with pytest.raises(UnknownBoard, match=r"no board named or at 'bench-9' in .*; boards: bench-1, bench-2"):
        inv.find("bench-9")
    with pytest.raises(AttributeError):
        b.serial = "other"          # frozen


def test_inventory_default_path_is_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "lab.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("HIL_INVENTORY", str(path))
    assert load_inventory().names == ["bench-1", "bench-2"]



@pytest.mark.parametrize("text, message", [
    ("[[board]]\n" + ENTRY.replace('serial = "BSS2-0042"\n', ""),
     "board 'bench-1' (#1): key 'serial': missing; every board needs name, resource, serial, family"),
    ("[[board]]\n" + ENTRY + 'serail = "BSS2-0042"\n',
     "board 'bench-1' (#1): key 'serail': unknown key; allowed: name, resource, serial, family, description"),
    ("[[board]]\n" + ENTRY.replace("::5025::SOCKET", "::SOCKET"),
     "board 'bench-1' (#1): key 'resource': 'TCPIP::10.0.0.5::SOCKET' is not of the form "
     "TCPIP::<host>::<port>::SOCKET"),
    ("[[board]]\n" + ENTRY.replace("TCPIP::10.0.0.5::5025::SOCKET", "10.0.0.5:5025"),
     "board 'bench-1' (#1): key 'resource': '10.0.0.5:5025' is not of the form TCPIP::<host>::<port>::SOCKET"),
    ("[[board]]\n" + ENTRY.replace("5025", "70000"),
     "board 'bench-1' (#1): key 'resource': port 70000 of 'TCPIP::10.0.0.5::70000::SOCKET' is outside 1..65535"),
    ("[[board]]\n" + ENTRY + "[[board]]\n" + ENTRY.replace("10.0.0.5", "10.0.0.6").replace("0042", "0043"),
     "board 'bench-1' (#2): key 'name': 'bench-1' is already the name of board #1"),
    ("[[board]]\n" + ENTRY + "[[board]]\n" + ENTRY.replace("bench-1", "bench-2").replace("0042", "0043"),
     "board 'bench-2' (#2): key 'resource': 'TCPIP::10.0.0.5::5025::SOCKET' is already the resource of board #1"),
    ("[[board]]\n" + ENTRY + "[[board]]\n" + ENTRY.replace("bench-1", "bench-2").replace("10.0.0.5", "10.0.0.6"),
     "board 'bench-2' (#2): key 'serial': 'BSS2-0042' is already the serial of board #1"),
    ("[[board]]\n" + ENTRY.replace('"bench-1"', "7"), "board #1: key 'name': must be a string, not 7"),
    ("[[board]]\n" + ENTRY.replace('"bench-1"', '"bench 1"'),
     "board 'bench 1' (#1): key 'name': 'bench 1' must be 1..64 of [A-Za-z0-9_.-], starting with a letter or digit"),
    ("[[board]]\n" + ENTRY.replace('"BSS2-0042"', '"BSS2,0042"'),
     "board 'bench-1' (#1): key 'serial': 'BSS2,0042' must be non-empty, without commas or surrounding "
     "spaces (it is compared with the serial field of *IDN?)"),
    ("[board]\n" + ENTRY, "key 'board': must be an array of tables: write [[board]], not [board]"),
    ("boards = []\n", "key 'boards': unknown top-level key; an inventory holds only [[board]] tables"),
    ("", "no boards: add a [[board]] table per board"),
    ("[[board]\n", "not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)"),
])
def test_inventory_refuses_bad_files_naming_board_and_key(tmp_path, text, message):
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    assert str(e.value) == f"{path}: {message}"
    assert isinstance(e.value, ValueError)


def test_missing_inventory_says_how_to_name_one(tmp_path):
    with pytest.raises(InventoryError) as e:
        load_inventory(tmp_path / "nope.toml")
    assert str(e.value) == f"{tmp_path / 'nope.toml'}: no such inventory file; give another or set $HIL_INVENTORY"


def test_probe_of_an_unknown_host_is_unreachable_not_a_crash():
    r = probe(Board.from_resource("TCPIP::no-such-host.invalid::5025::SOCKET"), timeout_s=2)
    assert not r.reachable and not r.ok and r.status.startswith("unreachable: ")
