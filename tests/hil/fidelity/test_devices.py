"""Device names as ``hil fidelity --device`` takes them."""
import pytest

from hil.errors import InvalidValue
from hil.fidelity import Device, parse_device
from hil.rtl.geometry import RtlGeometry


@pytest.mark.parametrize("text, device", [
    ("emulator:EMU-0042", Device("emulator", "EMU-0042")),
    ("emulator:EMU-0042:ideal", Device("emulator", "EMU-0042", ideal=True)),
    ("board:bench-1", Device("board", "bench-1")),
    ("board:TCPIP::127.0.0.1::5025::SOCKET", Device("board", "TCPIP::127.0.0.1::5025::SOCKET")),
    ("emulator:EMU-0042:core=32x32x1", Device("emulator", "EMU-0042", core=RtlGeometry())),
    ("emulator:EMU-0042:ideal:core=8x4x2", Device("emulator", "EMU-0042", ideal=True, core=RtlGeometry(8, 4, 2))),
    ("rtl:RTL-1", Device("rtl", "RTL-1")),
    ("rtl:EMU-0042:ideal", Device("rtl", "EMU-0042", ideal=True)),
    ("rtl:EMU-0042:ideal:verilator", Device("rtl", "EMU-0042", ideal=True, simulator="verilator"))])
def test_parse(text, device):
    assert parse_device(text) == device and device.spec == text


@pytest.mark.parametrize("text", ["emulator", "emulator:", "emu:EMU-1", "emulator:EMU-1:fast", "board:", 7,
                                  "emulator:E:core=32x32", "emulator:E:core=0x1x1", "emulator:E:core=axbxc",
                                  "emulator:E:core=1x1x1:core=2x2x2", "rtl:", "rtl:EMU-1:fast", "rtl:EMU-1:icarus:verilator", "rtl:EMU-1:ideal:ideal"])
def test_bad_names_are_refused(text):
    with pytest.raises(InvalidValue, match="--device"):
        parse_device(text)
