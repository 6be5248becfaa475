"""RTL benchmark: the Verilog models as users run them, against the emulator doing the same work.

    .venv/bin/python bench/rtl.py [--simulators icarus verilator] [--batch 64] [--no-suite]

Measured in one run, per simulator:

* the start-up of an RTL session (``hil.backend.open("rtl", ...)``: fixed-pattern export,
  the build, reused when unchanged, and the simulator serving the board protocol), against
  opening the emulator: the first (with the build where the sources changed) and another
  one (the build kept, as every later session of a run);
* ``hil.bss2.mac`` on the open rtl backend (int64 inputs, the core's 32 x 32 block, one
  send at the default wait), against the same product on the emulator restricted to the same
  core (``geometry=RtlGeometry()``), best and median of the repeats;
* beside it, the simulation's own speed: simulated clock cycles (8 ns) per second of the same
  MAC run inside the simulator (``hil.rtl.job``), without the protocol around it;
* the wall time of the MAC suites (``pytest suites --backend rtl``), against the same command
  on the emulator (``--no-suite`` leaves it out). Target: the RTL suites in under 10 minutes
  on 2 cores; a figure that misses it is flagged ``** misses target **``.
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hil
from emulator.bss2 import VirtualChip
from hil.rtl import RtlGeometry, build, fixed_pattern, job

from board import best_and_median as timed, flag   # bench/board.py, beside this script

REPO = Path(__file__).resolve().parents[1]
SERIAL = "EMU-0042"
SUITE_TARGET_S = 600.0


def suite_seconds(backend: str, extra: list[str]) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-n", "2", "-p", "no:cacheprovider",
                           "--backend", backend, *extra], cwd=REPO, capture_output=True, text=True)
    print("    " + (proc.stdout.strip().splitlines() or ["(no output)"])[-1])
    return time.perf_counter() - t, proc.returncode


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulators", nargs="+", default=["icarus", "verilator"], choices=["icarus", "verilator"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-suite", action="store_true")
    args = ap.parse_args(argv)

    core = RtlGeometry()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 32, (args.batch, core.rows))             # int64, as users pass them
    W = rng.integers(-63, 64, (core.rows, core.neurons))
    print(f"core {core.rows} x {core.neurons}, batch {args.batch}, serial {SERIAL}")

    t = time.perf_counter()
    emulator = hil.backend.open("emulator", serial=SERIAL, geometry=core)
    emulator_open = time.perf_counter() - t
    emu_best, emu_median = timed(lambda: hil.bss2.mac(emulator, x, W), max(args.repeats, 20))
    for sim in args.simulators:
        print(f"{sim}:")
        t = time.perf_counter()
        with hil.backend.open("rtl", serial=SERIAL, simulator=sim) as rtl:
            startup = time.perf_counter() - t
            print(f"  session start-up     {startup:8.2f} s   (emulator {emulator_open * 1e3:.1f} ms, "
                  f"ratio {startup / emulator_open:.0f})")
            best, median = timed(lambda: hil.bss2.mac(rtl, x, W), args.repeats)
            print(f"  hil.bss2.mac         {best:8.3f} s best, {median:.3f} s median   (emulator "
                  f"{emu_best * 1e6:.0f} us best; ratio {best / emu_best:.0f})")
        t = time.perf_counter()
        hil.backend.open("rtl", serial=SERIAL, simulator=sim).close()
        again = time.perf_counter() - t
        print(f"  start-up, build kept {again:8.2f} s   (ratio {again / emulator_open:.0f} to the emulator)")
        # The simulation alone, beside what the user calls: cycles of the same run, per second.
        with tempfile.TemporaryDirectory() as work:
            fixed_pattern.export(VirtualChip(SERIAL), core, work)
            [result] = job.run(build.build(core, sim), work, [job.MacRun(W.astype(np.int8), x.astype(np.uint8))])
            print(f"  simulation           {result.cycles / result.seconds:8.0f} cycles/s   "
                  f"({result.cycles} cycles of 8 ns in {result.seconds:.3f} s)")
        if not args.no_suite:
            rtl_s, code = suite_seconds("rtl", ["--simulator", sim])
            print(f"  pytest suites        {rtl_s:8.1f} s (exit {code}){flag(rtl_s <= SUITE_TARGET_S)}")
    if not args.no_suite:
        emu_s, code = suite_seconds("emulator", [])
        print(f"emulator: pytest suites {emu_s:.1f} s (exit {code})")
    emulator.close()


if __name__ == "__main__":
    main()
