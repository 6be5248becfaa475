"""``hil boards``: probe every board of an inventory and print a table.

    hil boards                                  # $HIL_INVENTORY, else ./inventory.toml
    hil boards --inventory lab.toml --timeout 2

Each board is asked ``*IDN?``, ``CHIP:FAM?`` and ``LOCK?``; nothing is leased
or changed, so boards in use by a test run may be probed. Exit code 0 if every
board is ok, 1 if any is not; 2 for a bad inventory (the message names the
board and key).
"""
import argparse

from drivers.board import DEFAULT_TIMEOUT_S
from drivers.inventory import ENV_INVENTORY, ProbeResult, load_inventory, probe

from .cli_tables import format_table

EXIT_OK, EXIT_NOT_OK = 0, 1

HEADERS = ("name", "resource", "expected serial", "answered serial", "firmware", "leased", "status")


def add_parser(sub, command) -> None:
    """Registers ``hil boards`` on the ``hil`` sub-parsers; ``command`` is hil.cli's ``_command``."""
    r = command(sub, "boards", cmd_boards, "probe the boards of an inventory (*IDN?, serial) and print a table")
    r.add_argument("--inventory", metavar="FILE",
                   help=f"inventory TOML file (default: ${ENV_INVENTORY}, else ./inventory.toml)")
    r.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"seconds to wait for each board's answers (default {DEFAULT_TIMEOUT_S:g})")


def cmd_boards(args) -> int:
    inventory = load_inventory(args.inventory)
    results = [probe(board, timeout_s=args.timeout) for board in inventory]
    print(f"inventory: {inventory.path}")
    print(boards_table(results))
    bad = sum(not r.ok for r in results)
    print(f"{len(results) - bad} of {len(results)} boards ok")
    return EXIT_OK if bad == 0 else EXIT_NOT_OK


def boards_table(results: list[ProbeResult]) -> str:
    rows = []
    for r in results:
        i = r.identity
        leased = "-" if r.leased is None else ("yes" if r.leased else "no")
        rows.append([r.board.name, r.board.resource, r.board.serial or "-", i.serial if i else "-",
                     i.firmware if i else "-", leased, r.status])
    return format_table(HEADERS, rows)


def _seconds(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.001 <= s <= 3600:
        raise argparse.ArgumentTypeError(f"{s:g} is outside 0.001..3600 seconds")
    return s
