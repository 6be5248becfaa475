"""The ``hil`` command line.

    hil run bss2.mac_noise --serial EMU-0007 --set repeats=500   # run, store, judge one experiment
    hil experiments                                            # what can be run, with its parameters
    hil demo                                                   # the MAC experiments + an HTML report
    hil runs --limit 20                                        # stored runs, newest first
    hil report RUN_ID [RUN_ID ...] --out DIR                   # a report from stored runs
    hil serve --port 5025 --serial EMU-0007 [--fault ...]      # a virtual board (docs/protocol.md)
    hil run bss2.mac_gain --backend board --resource TCPIP::127.0.0.1::5025::SOCKET   # or --board NAME
    hil boards [--inventory inventory.toml]                    # probe the inventory's boards
    hil accept --backend board --resource R | --board NAME     # acceptance certificate
    hil fidelity EXPERIMENT... --device emulator:EMU-0042 --device emulator:EMU-0042:ideal   # side by side
    hil run bss2.mac_gain --backend rtl --serial EMU-0042 [--simulator verilator]  # the Verilog models
    hil regress [--simulator verilator] [--serials EMU-0042 EMU-0007]             # chip-verification regression

One module per group of subcommands: :mod:`.experiments` (run, experiments,
demo), :mod:`.results` (runs, report), :mod:`.fidelity`, :mod:`.boards` (serve, boards),
:mod:`.accept`, :mod:`.regress`; their shared options are in :mod:`.options`, their tables in
:mod:`.tables`. Exit codes are in :mod:`.exit_codes`: 0 every judged metric
passed; 1 a metric failed (or, for ``demo``, an experiment failed or raised);
2 a usage or validation error (the message names what was wrong; no
traceback); 3 an unexpected internal error (with its traceback).
"""
import argparse
import os
import sys
import traceback

from .. import __version__
from ..contract.errors import RigError
from . import accept, boards, experiments, fidelity, regress, results
from .exit_codes import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default: sys.argv[1:]); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:    # --help, --version and argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not hasattr(args, "command"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.command(args)
    except (RigError, ValueError) as exc:
        print(f"hil {args.command_name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (``hil runs | head``): not an error of ours. Point
        # stdout at devnull so that the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("hil: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        # A bug, not a verdict: keep the traceback, and an exit code that no
        # pass/fail consumer can mistake for a failed metric.
        traceback.print_exc()
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hil", description="Hardware-in-the-loop rig: run experiments on "
                                "emulated chips, RTL simulations and boards; store, judge and report them.")
    p.add_argument("--version", action="version", version=f"hil-rig {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")
    for group in (experiments, results, fidelity, boards, accept, regress):
        group.add_parsers(sub)
    return p


if __name__ == "__main__":
    sys.exit(main())
