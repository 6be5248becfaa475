"""The devices a fidelity report compares, named as ``hil fidelity --device`` names them.

    emulator:EMU-0042          the emulated chip of that serial
    emulator:EMU-0042:ideal    the same serial without mismatch, noise or leak
    emulator:EMU-0042:core=32x32x1   the same chip on an RTL core's inputs and neurons
                               (rows x columns x hemispheres: what its RTL must equal)
    board:bench-1              a board of the inventory, by name (docs/boards.md)
    board:TCPIP::127.0.0.1::5025::SOCKET   a board by its VISA resource
    rtl:EMU-0042               the RTL models of that chip in Icarus Verilog (a reduced core)
    rtl:EMU-0042:ideal:verilator   ... without mismatch, in Verilator
"""
from dataclasses import dataclass

from drivers.errors import DriverError

from ..contract import backend as backends
from ..contract.errors import InvalidValue
from ..rtl.geometry import RtlGeometry

KINDS = ("emulator", "board", "rtl")
SIMULATORS = ("icarus", "verilator")


@dataclass(frozen=True)
class Device:
    """One device of a comparison."""

    kind: str
    """'emulator', 'board' or 'rtl'."""
    name: str
    """The serial (emulator, rtl), or the inventory name or VISA resource (board)."""
    ideal: bool = False
    """An ideal chip (emulator, rtl)."""
    simulator: str = ""
    """The RTL simulator ('icarus', 'verilator'; rtl only, '' for the default)."""
    core: RtlGeometry | None = None
    """The emulator restricted to an RTL core (emulator only; None: the whole chip)."""

    @property
    def spec(self) -> str:
        """As ``--device`` writes it."""
        core = self.core
        return f"{self.kind}:{self.name}" + (":ideal" if self.ideal else "") + \
            (f":{self.simulator}" if self.simulator else "") + \
            (f":core={core.rows}x{core.columns}x{core.hemispheres}" if core is not None else "")

    def open(self, inventory: str | None = None, *, first_run: int | None = None, family: str | None = None):
        """The device's backend. A board from the inventory is checked against its serial.
        ``first_run``: open an emulated chip at that run counter (to replay a board's runs); ``family``: the
        chip family to open (None: bss2; a board must hold a chip of it)."""
        family_option = {} if family is None else {"family": family}
        if self.kind == "emulator":
            options = {"serial": self.name, "ideal": self.ideal, **family_option}
            if self.core is not None:
                options["geometry"] = self.core
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
            return backends.open("board", **options, **family_option)
        return backends.open("rtl", serial=self.name, ideal=self.ideal, **family_option,
                             **({"simulator": self.simulator} if self.simulator else {}))


def _core(text: str, flag: str) -> RtlGeometry:
    sizes = flag[len("core="):].split("x")
    if len(sizes) != 3 or not all(s.isdigit() for s in sizes):
        raise InvalidValue("--device", f"{text!r}: a core is core=ROWSxCOLUMNSxHEMISPHERES, e.g. core=32x32x1")
    try:
        return RtlGeometry(*(int(s) for s in sizes))
    except InvalidValue as exc:
        raise InvalidValue("--device", f"{text!r}: {exc}") from None


def parse_device(text: str) -> Device:
    """``emulator:SERIAL[:ideal]``, ``board:NAME`` or ``board:RESOURCE``, ``rtl:SERIAL[:ideal][:SIMULATOR]``."""
    if not isinstance(text, str):
        raise InvalidValue("--device", f"{text!r} is not a device name")
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS or not rest:
        raise InvalidValue("--device", f"{text!r} is not of the form emulator:SERIAL[:ideal], "
                                       "board:NAME|RESOURCE or rtl:SERIAL[:ideal][:icarus|verilator]")
    if kind == "emulator":
        serial, *flags = rest.split(":")
        cores = [f for f in flags if f.startswith("core=")]
        if not serial or any(f != "ideal" and not f.startswith("core=") for f in flags) \
                or flags.count("ideal") > 1 or len(cores) > 1:
            raise InvalidValue("--device", f"{text!r}: an emulator is emulator:SERIAL[:ideal][:core=ROWSxCOLUMNSxHEMISPHERES]")
        return Device("emulator", serial, ideal="ideal" in flags, core=_core(text, cores[0]) if cores else None)
    if kind == "rtl":
        serial, *flags = rest.split(":")
        simulators = [f for f in flags if f in SIMULATORS]
        if not serial or len(simulators) > 1 or any(f not in ("ideal", *SIMULATORS) for f in flags) \
                or flags.count("ideal") > 1:
            raise InvalidValue("--device", f"{text!r}: an RTL simulation is rtl:SERIAL[:ideal][:icarus|verilator]")
        return Device("rtl", serial, ideal="ideal" in flags, simulator=simulators[0] if simulators else "")
    # A board's resource holds colons of its own (TCPIP::host::port::SOCKET): the rest is its name.
    return Device(kind, rest)


__all__ = ["Device", "KINDS", "parse_device"]
