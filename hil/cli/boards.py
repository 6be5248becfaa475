"""``hil serve`` and ``hil boards``: serve a virtual board, and probe the boards of an inventory.

    hil serve --port 5025 --serial EMU-0007 --fault dead-neuron=77   # docs/protocol.md
    hil serve --family dynapse2 --mesh 2x2                           # a Dynap-SE2-like board
    hil serve --family crossbar --shape 512x128                      # an analog crossbar tile
    hil boards                                  # $HIL_INVENTORY, else ./inventory.toml
    hil boards --inventory lab.toml --timeout 2

Each board is asked ``*IDN?``, ``CHIP:FAM?`` and ``LOCK?``; nothing is leased
or changed, so boards in use by a test run may be probed. Exit code 0 if every
board is ok, 1 if any is not; 2 for a bad inventory (the message names the
board and key).
"""
import ipaddress
import sys

from drivers.board import DEFAULT_TIMEOUT_S
from drivers.inventory import ENV_INVENTORY, ProbeResult, load_inventory, probe

from ..contract import backend as backends
from ..contract.errors import InvalidValue
from .exit_codes import EXIT_FAIL, EXIT_PASS
from ..server.limits import RANGES, Limits
from .options import add_family_arguments, bounded, command, emulator_options, seconds
from .tables import format_table

LIMIT_OPTIONS = {
    "lease_timeout_s": ("a lease expires when its holders have sent nothing for this long", "seconds"),
    "max_block": ("largest block payload", "bytes"),
    "memory_budget": ("bytes held for all clients: blocks, readouts, answers", "bytes"),
    "max_connections": ("connections served at once", "connections"),
    "block_timeout_s": ("a started command must arrive within this", "seconds"),
    "idle_timeout_s": ("a connection that sends nothing for this long is closed", "seconds"),
    "send_timeout_s": ("a client must take its answer within this", "seconds"),
}
"""``hil serve``'s options for the server's limits (hil.server.limits.Limits), with their help."""


def limit_option(name: str) -> str:
    """The ``hil serve`` option of a limit: ``lease_timeout_s`` -> ``--lease-timeout``."""
    return "--" + name.removesuffix("_s").replace("_", "-")


HEADERS = ("name", "resource", "expected serial", "answered serial", "firmware", "leased", "status")


def add_parsers(sub) -> None:
    r = command(sub, "serve", cmd_serve, "serve a virtual chip behind the board protocol (a virtual board)")
    r.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    r.add_argument("--port", type=bounded(int, 0, 65535, "port"), default=5025,
                   help="TCP port (default 5025; 0 picks a free one)")
    add_family_arguments(r)
    r.add_argument("--serial", help="serial of the virtual chip")
    r.add_argument("--ideal", action="store_true", help="no mismatch or noise")
    r.add_argument("--fault", action="append", default=[], metavar="FAULT",
                   help="inject a fault (repeatable; the fault model: docs/acceptance.md): dead-neuron=N[,N..], "
                        "stuck-bit=H:ROW:COL:BIT:VALUE, stuck-label-bit=H:ROW:COL:BIT:VALUE, noisy-neuron=N:SIGMA, "
                        "missing-codes=A-B[,..], dead-driver=H:D[,..], full-pulse-driver=H:D[,..], "
                        "shorted-columns=N[,..] (N and N+1), cadc-offset=N:CODES, cadc-slope=N:FACTOR, "
                        "stuck-capmem=N:PARAMETER:LEVEL, drop-after=N, slow=SECONDS")
    for name, (help_text, unit) in LIMIT_OPTIONS.items():
        lo, hi = RANGES[name]
        default = getattr(Limits(), name)
        r.add_argument(limit_option(name), dest=name,
                       type=bounded(int if isinstance(default, int) else float, lo, hi, unit),
                       default=default, metavar="S" if unit == "seconds" else "N",
                       help=f"{help_text} ({lo}..{hi} {unit}; default {default})")

    r = command(sub, "boards", cmd_boards, "probe the boards of an inventory (*IDN?, serial) and print a table")
    r.add_argument("--inventory", metavar="FILE",
                   help=f"inventory TOML file (default: ${ENV_INVENTORY}, else ./inventory.toml)")
    r.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"seconds to wait for each board's answers (default {DEFAULT_TIMEOUT_S:g})")


def cmd_serve(args) -> int:
    from ..server.faults import parse_faults
    from ..server.tcp import VirtualBoard

    chip_faults, link_faults = parse_faults(args.fault)
    limits = Limits(**{name: getattr(args, name) for name in LIMIT_OPTIONS})
    options = emulator_options(args)
    if not chip_faults.healthy:
        if options.get("family", "bss2") != "bss2":
            raise InvalidValue("--fault", f"the chip faults are bss2's; a {options['family']} board takes none yet")
        options["faults"] = chip_faults
    board = VirtualBoard(backends.open("emulator", **options), args.host, args.port,
                         link_faults=link_faults, limits=limits)
    warning = exposure_warning(board.address[0])
    if warning:
        print(f"hil serve: warning: {warning}", file=sys.stderr, flush=True)
    info = board.backend.info()
    # Fixtures read this line to learn the port; keep its form.
    print(f"hil serve: {info.model} {info.serial} listening on {board.resource}", flush=True)
    try:
        board.serve_forever()
    finally:
        board.close()
    return EXIT_PASS


def exposure_warning(address: str) -> str | None:
    """Why binding ``address`` (as bound: an IP address) is a risk; None for a loopback one."""
    if ipaddress.ip_address(address).is_loopback:
        return None
    return (f"listening on {address}, not on loopback: the board protocol has no authentication, so "
            "anyone who can reach this port can use, reconfigure and reset the board")


def cmd_boards(args) -> int:
    inventory = load_inventory(args.inventory)
    results = [probe(board, timeout_s=args.timeout) for board in inventory]
    print(f"inventory: {inventory.path}")
    print(boards_table(results))
    bad = sum(not r.ok for r in results)
    print(f"{len(results) - bad} of {len(results)} boards ok")
    return EXIT_PASS if bad == 0 else EXIT_FAIL


def boards_table(results: list[ProbeResult]) -> str:
    rows = []
    for r in results:
        i = r.identity
        leased = "-" if r.leased is None else ("yes" if r.leased else "no")
        rows.append([r.board.name, r.board.resource, r.board.serial or "-", i.serial if i else "-",
                     i.firmware if i else "-", leased, r.status])
    return format_table(HEADERS, rows)
