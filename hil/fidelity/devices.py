"""The devices a fidelity report compares, named as ``hil fidelity --device`` names them.

    emulator:EMU-0042          the emulated chip of that serial
    emulator:EMU-0042:ideal    the same serial without mismatch, noise or leak
    board:bench-1              a board of the inventory, by name (docs/boards.md)
    board:TCPIP::127.0.0.1::5025::SOCKET   a board by its VISA resource
    rtl:<serial>               an RTL simulation (not available yet: refused)
"""
from dataclasses import dataclass

from drivers.errors import DriverError

from ..contract import backend as backends
from ..contract.errors import InvalidValue

KINDS = ("emulator", "board", "rtl")


@dataclass(frozen=True)
class Device:
    """One device of a comparison."""

    kind: str
    """'emulator', 'board' or 'rtl'."""
    name: str
    """The serial (emulator, rtl), or the inventory name or VISA resource (board)."""
    ideal: bool = False
    """An ideal emulated chip (emulator only)."""

    @property
    def spec(self) -> str:
        """As ``--device`` writes it."""
        return f"{self.kind}:{self.name}" + (":ideal" if self.ideal else "")

    def open(self, inventory: str | None = None, *, first_run: int | None = None):
        """The device's backend. A board from the inventory is checked against its serial.
        ``first_run``: open an emulated chip at that run counter (to replay a board's runs)."""
        if self.kind == "emulator":
            options = {"serial": self.name, "ideal": self.ideal}
            if first_run is not None:
                options["first_run"] = first_run
            return backends.open("emulator", **options)
        if self.kind == "board":
            from drivers.inventory import is_resource, load_inventory

            options = {}
            if is_resource(self.name):
                options["resource"] = self.name
            else:
                try:
                    board = load_inventory(inventory).find(self.name)
                except DriverError as exc:
                    raise InvalidValue("--device", str(exc)) from None
                options["resource"] = board.resource
                if board.serial is not None:
                    options["expected_serial"] = board.serial
            return backends.open("board", **options)
        raise InvalidValue("--device", f"{self.spec}: the rtl backend is not available yet")


def parse_device(text: str) -> Device:
    """``emulator:SERIAL[:ideal]``, ``board:NAME`` or ``board:RESOURCE``, ``rtl:SERIAL``."""
    if not isinstance(text, str):
        raise InvalidValue("--device", f"{text!r} is not a device name")
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS or not rest:
        raise InvalidValue("--device", f"{text!r} is not of the form emulator:SERIAL[:ideal], "
                                       "board:NAME|RESOURCE or rtl:SERIAL")
    if kind == "emulator":
        serial, sep, flag = rest.partition(":")
        if not serial or (sep and flag != "ideal"):
            raise InvalidValue("--device", f"{text!r}: an emulator is emulator:SERIAL or emulator:SERIAL:ideal")
        return Device("emulator", serial, ideal=bool(sep))
    # A board's resource holds colons of its own (TCPIP::host::port::SOCKET): the rest is its name.
    return Device(kind, rest)


__all__ = ["Device", "KINDS", "parse_device"]
