"""Device names as ``hil fidelity --device`` takes them."""
import pytest

from hil.errors import InvalidValue
from hil.fidelity import Device, parse_device


@pytest.mark.parametrize("text, device", [
    ("emulator:EMU-0042", Device("emulator", "EMU-0042")),
    ("emulator:EMU-0042:ideal", Device("emulator", "EMU-0042", ideal=True)),
    ("board:bench-1", Device("board", "bench-1")),
    ("board:TCPIP::127.0.0.1::5025::SOCKET", Device("board", "TCPIP::127.0.0.1::5025::SOCKET")),
    ("rtl:RTL-1", Device("rtl", "RTL-1"))])
def test_parse(text, device):
    assert parse_device(text) == device and device.spec == text


@pytest.mark.parametrize("text", ["emulator", "emulator:", "emu:EMU-1", "emulator:EMU-1:fast", "board:", 7])
def test_bad_names_are_refused(text):
    with pytest.raises(InvalidValue, match="--device"):
        parse_device(text)


def test_rtl_is_not_available_yet():
    with pytest.raises(InvalidValue, match="rtl backend is not available"):
        parse_device("rtl:RTL-1").open()
