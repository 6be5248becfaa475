"""Options shared by the ``hil`` subcommands: which device a command runs on (``hil run``,
``hil accept``), the store, and the argument types.

    --backend emulator [--serial S] [--ideal]
    --backend board --resource TCPIP::<host>::<port>::SOCKET [--serial S]
    --board NAME [--inventory FILE]          (a board of the inventory, docs/boards.md)
"""
import argparse
import math

from drivers.errors import DriverError
from drivers.protocol import new_token

from ..contract import backend as backends
from ..contract.errors import InvalidValue, RigError
from ..results.store import ENV_ROOT

FAMILIES = ("bss2", "dynapse2", "crossbar")
"""The chip families (``hil.backend.families()``; not imported, to keep the CLI light)."""

SIMULATORS = ("icarus", "verilator")
"""The rtl backend's simulators (hil.rtl.build.SIMULATORS; not imported, to keep the CLI light)."""

STORE_HELP = f"results store folder (default: ${ENV_ROOT}, else ./hil_results)"


def command(sub, name: str, func, help_text: str) -> argparse.ArgumentParser:
    """Registers subcommand ``name`` on the ``hil`` sub-parsers; ``func(args)`` returns the exit code."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(command=func, command_name=name)
    return p


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not >= 1")
    return n


def bounded(kind: type, lo: float, hi: float, unit: str):
    """An argparse type: a finite ``kind`` (int or float) in lo..hi (argparse names the option)."""
    allowed = f"{lo}..{hi}" if kind is int else f"{lo:g}..{hi:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number "
                                             f"of {unit}; allowed: {allowed}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"{text!r} is outside {allowed} {unit}")
        return value
    return parse


seconds = bounded(float, 0.001, 3600, "seconds")
"""A time-out: 0.001..3600 seconds."""


def mesh(text: str) -> tuple[int, int]:
    """An argparse type: ``WxH``, a board's mesh of chips (1..4 each)."""
    w, sep, h = text.lower().partition("x")
    try:
        value = (int(w), int(h))
    except ValueError:
        value = None
    if not sep or value is None or not all(1 <= v <= 4 for v in value):
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT with each 1..4 (e.g. 2x2)")
    return value


def shape(text: str) -> tuple[int, int]:
    """An argparse type: ``ROWSxCOLUMNS``, a crossbar tile's shape (1..4096 each)."""
    r, sep, c = text.lower().partition("x")
    try:
        value = (int(r), int(c))
    except ValueError:
        value = None
    if not sep or value is None or not all(1 <= v <= 4096 for v in value):
        raise argparse.ArgumentTypeError(f"{text!r} is not ROWSxCOLUMNS with each 1..4096 (e.g. 512x128)")
    return value


def emulator_options(args, family: str | None = None) -> dict:
    """``--family``, ``--serial``, ``--ideal``, ``--mesh`` and ``--shape`` as options of the emulator backend; only those
    given, so that a backend without such an option is not handed a None it must know to ignore. ``family``:
    the family to open when ``--family`` is not given (e.g. the experiment's)."""
    options = {}
    family = getattr(args, "family", None) or family
    if family is not None:
        options["family"] = family
    if getattr(args, "serial", None) is not None:
        options["serial"] = args.serial
    if getattr(args, "ideal", False):
        options["ideal"] = True
    if getattr(args, "mesh", None) is not None:
        if family != "dynapse2":
            raise InvalidValue("--mesh", f"only a dynapse2 board has a mesh of chips; this is a {family or 'bss2'} "
                                         "device (give --family dynapse2)")
        options["mesh"] = args.mesh
    if getattr(args, "shape", None) is not None:
        if family != "crossbar":
            raise InvalidValue("--shape", f"only a crossbar tile has a shape; this is a {family or 'bss2'} device "
                                          "(give --family crossbar)")
        options["shape"] = args.shape
    return options


def add_family_arguments(parser) -> None:
    parser.add_argument("--family", choices=FAMILIES,
                        help="chip family: bss2 (the default), dynapse2 or crossbar; a board says its own")
    parser.add_argument("--mesh", type=mesh, metavar="WxH",
                        help="dynapse2 emulator: the board's mesh of chips (default 2x2)")
    parser.add_argument("--shape", type=shape, metavar="ROWSxCOLUMNS",
                        help="crossbar emulator: the tile's rows (outputs) x columns (inputs) (default 512x128)")


def add_backend_arguments(parser, *, ideal: bool = True) -> None:
    add_family_arguments(parser)
    parser.add_argument("--backend", help="backend to open: emulator (default), rtl (the Verilog models in a "
                                          "simulator), or board (the default with --resource or --board)")
    parser.add_argument("--serial", help="emulator, rtl: the virtual chip's serial; board: the serial its *IDN? "
                                         "must answer (else the board is refused)")
    if ideal:
        parser.add_argument("--ideal", action="store_true", help="no mismatch or noise (emulator)")
    parser.add_argument("--simulator", choices=SIMULATORS,
                        help="rtl backend: the simulator of the Verilog models (default icarus)")
    parser.add_argument("--resource", help="VISA resource of a board, TCPIP::<host>::<port>::SOCKET")
    parser.add_argument("--board", metavar="NAME", help="a board of the inventory, by name (see 'hil boards')")
    parser.add_argument("--inventory", metavar="FILE",
                        help="inventory file for --board (default: $HIL_INVENTORY, else ./inventory.toml)")


def backend_selection(args, *, family: str | None = None, token_prefix: str = "hil") -> tuple[str, dict]:
    """The backend name and its options from ``--backend``, ``--serial``, ``--ideal``,
    ``--resource``, ``--board`` and ``--inventory``. A board is leased under a fresh token
    for as long as the command runs. The family is ``--family``, else ``family`` (an experiment's or a
    specification's); a board must hold a chip of it, and says which it holds when neither is given."""
    if getattr(args, "family", None) is not None and family is not None and args.family != family:
        raise InvalidValue("--family", f"{args.family!r}, but this command needs a {family} device")
    family = getattr(args, "family", None) or family
    if args.resource is not None and args.board is not None:
        raise InvalidValue("--board", "give a board by --board NAME or by --resource, not both")
    if args.inventory is not None and args.board is None:
        raise InvalidValue("--inventory", "is only used with --board NAME")
    on_board = args.resource is not None or args.board is not None
    name = args.backend or ("board" if on_board else "emulator")
    simulator = getattr(args, "simulator", None)
    if simulator is not None and name != "rtl":
        raise InvalidValue("--simulator", f"selects the rtl backend's simulator; the {name} backend has none")
    if name != "board":
        if on_board:
            raise InvalidValue("--backend", f"{name!r} does not take --resource or --board; use --backend board")
        return name, {**emulator_options(args, family), **({"simulator": simulator} if simulator else {})}
    if getattr(args, "ideal", False):
        raise InvalidValue("--ideal", "a board cannot be made ideal; --ideal is for the emulator")
    if getattr(args, "mesh", None) is not None:
        raise InvalidValue("--mesh", "a board has the mesh it has; --mesh is for the emulator")
    if getattr(args, "shape", None) is not None:
        raise InvalidValue("--shape", "a board has the shape it has; --shape is for the emulator")
    options = {"token": new_token(token_prefix)}
    if family is not None:
        options["family"] = family
    if args.board is not None:
        from drivers.inventory import load_inventory

        try:
            board = load_inventory(args.inventory).find(args.board)
        except DriverError as exc:        # no inventory, a bad one, or no such board
            raise InvalidValue("--board", str(exc)) from None
        if family is not None and board.family is not None and board.family != family:
            raise InvalidValue("--board", f"{board.name} is a {board.family} board, not a {family} one")
        options["resource"] = board.resource
        if args.serial is not None and board.serial is not None and args.serial != board.serial:
            raise InvalidValue("--serial", f"{args.serial!r} is not the serial of {board.name} in the inventory "
                                           f"({board.serial!r})")
        expected = args.serial or board.serial
    elif args.resource is not None:
        options["resource"] = args.resource
        expected = args.serial
    else:
        raise InvalidValue("--resource", "the board backend needs --resource TCPIP::<host>::<port>::SOCKET "
                                         "or --board NAME")
    if expected is not None:
        options["expected_serial"] = expected
    return name, options


def add_model_arguments(parser) -> None:
    parser.add_argument("--model", metavar="NAME=VALUE[,NAME=VALUE...]",
                        help="the analytical model to judge with: gain, noise_std, tau_leak (s; inf: no leak)")
    parser.add_argument("--spec", action="append", metavar="NAME=VALUE",
                        help="a field of the spec to judge with, e.g. gain_tolerance=0.05 (repeatable)")


def spec_from_args(args):
    """The :class:`hil.bss2.MacSpec` of ``--model`` and ``--spec``, or None when neither is given."""
    model_text, spec_items = getattr(args, "model", None), getattr(args, "spec", None) or []
    if model_text is None and not spec_items:
        return None
    import dataclasses

    from ..bss2.models import MacModel, MacSpec

    def pairs(items, option, fields):
        out = {}
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep or name not in fields:
                raise InvalidValue(option, f"{item!r}: not NAME=VALUE with NAME one of {sorted(fields)}")
            try:
                out[name] = int(text) if fields[name] is int else float(text)
            except ValueError:
                raise InvalidValue(f"{option} {name}", f"{text!r} is not a number") from None
        return out

    model_fields = {f.name: float for f in dataclasses.fields(MacModel)}
    spec_fields = {f.name: (int if isinstance(f.default, int) else float) for f in dataclasses.fields(MacSpec)
                   if f.name != "model"}
    model = MacModel(**pairs(model_text.split(",") if model_text else [], "--model", model_fields))
    return MacSpec(model=model, **pairs(spec_items, "--spec", spec_fields))


def open_selected(name: str, options: dict):
    """Opens the selected backend; a board that cannot be reached is a usage error."""
    try:
        return backends.open(name, **options)
    except (DriverError, OSError) as exc:
        if isinstance(exc, RigError):
            raise
        where = options.get("resource", name)
        raise Unreachable(f"cannot open {where}: {exc}") from None


class Unreachable(RigError, ConnectionError):
    """The board could not be opened (a usage error for the command line: nothing was judged)."""
