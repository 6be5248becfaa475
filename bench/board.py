"""Board path benchmark: what the wire costs, against the same work in process.

    .venv/bin/python bench/board.py [--repeats 30] [--block-mib 16]

A virtual board (`hil serve`) runs in a child process on a free loopback port;
the client is the real driver (pyvisa + pyvisa-py). Measured in one run:

* ``*IDN?`` round trips per second;
* block throughput (MB/s) of ``SYST:ECHO?`` (the board echoes a block back);
* a batch-1024 full-chip MAC (``hil.bss2.mac``: configure + run, 128 x 512)
  over the wire, against the same MAC on an in-process emulator of the same
  serial. Target: wire / in-process <= 1.5. A figure that misses its target
  is flagged ``** misses target **``;
* the small shapes of bench/mac.py (350 x 4 -> 128, 350 x 128 -> 3,
  1 x 128 -> 512; int64 inputs) over the wire beside their in-process times
  (no target: what a training loop pays per layer on a board).
"""
import argparse
import statistics
import time

import numpy as np

import hil
from drivers.board import BoardDriver
from hil.server.process import BoardProcess

SERIAL = "EMU-BENCH"
TARGET_MB_S = 100.0
"""Block throughput the wire should reach, MB/s."""
TARGET_RATIO = 1.5
"""MAC over the wire / in process, best of the repeats."""
SMALL_SHAPES = ((350, 4, 128), (350, 128, 3), (1, 128, 512))
"""(batch, rows, cols) of the small products, as in bench/mac.py."""


def flag(ok: bool) -> str:
    """What a line prints after its figure when the figure misses its target."""
    return "" if ok else "  ** misses target **"


def best_and_median(f, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--block-mib", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.integers(0, 32, (args.batch, 128))
    W = rng.integers(-63, 64, (128, 512))

    with BoardProcess(serial=SERIAL) as proc, BoardDriver(proc.resource) as drv, \
            hil.backend.open("board", resource=proc.resource) as board, \
            hil.backend.open("emulator", serial=SERIAL) as emu:
        print(f"virtual board {SERIAL} at {proc.resource} (child process), driver: pyvisa + pyvisa-py")

        n_idn = 2000
        t = time.perf_counter()
        for _ in range(n_idn):
            drv.identity()
        idn_rate = n_idn / (time.perf_counter() - t)
        print(f"*IDN? round trips: {idn_rate:,.0f} /s ({1e6 / idn_rate:.0f} us each)")

        payload = rng.integers(0, 256, args.block_mib << 20, dtype=np.uint8).tobytes()
        assert drv.echo(payload) == payload
        best, med = best_and_median(lambda: drv.echo(payload), max(5, args.repeats // 3))
        moved = 2 * len(payload) / 1e6
        print(f"block throughput (SYST:ECHO? of {args.block_mib} MiB, both ways): "
              f"{moved / best:,.0f} MB/s best, {moved / med:,.0f} MB/s median (target >= {TARGET_MB_S:g})"
              + flag(moved / best >= TARGET_MB_S))

        # Same serial, same sequence of runs: the results must be identical.
        assert np.array_equal(hil.bss2.mac(board, x, W), hil.bss2.mac(emu, x, W))
        wire_best, wire_med = best_and_median(lambda: hil.bss2.mac(board, x, W), args.repeats)
        local_best, local_med = best_and_median(lambda: hil.bss2.mac(emu, x, W), args.repeats)
        print(f"MAC batch {args.batch} x 128 -> 512 (configure + run), best of {args.repeats} [median]:")
        print(f"  in process: {local_best * 1e3:7.3f} ms [{local_med * 1e3:.3f}]")
        print(f"  over wire:  {wire_best * 1e3:7.3f} ms [{wire_med * 1e3:.3f}]")
        ratio = wire_best / local_best
        print(f"ratio wire/in-process = {ratio:.2f} best, {wire_med / local_med:.2f} median "
              f"(target <= {TARGET_RATIO:g})" + flag(ratio <= TARGET_RATIO))

        print(f"small shapes (hil.bss2.mac, int64 inputs), best of {args.repeats} [median]:")
        for batch, rows, cols in SMALL_SHAPES:
            xs, Ws = rng.integers(0, 32, (batch, rows)), rng.integers(-63, 64, (rows, cols))
            wire_best, wire_med = best_and_median(lambda: hil.bss2.mac(board, xs, Ws), args.repeats)
            local_best, local_med = best_and_median(lambda: hil.bss2.mac(emu, xs, Ws), args.repeats)
            print(f"  {batch:4d} x {rows:3d} -> {cols:3d}: in process {local_best * 1e6:8.1f} us "
                  f"[{local_med * 1e6:.1f}], over wire {wire_best * 1e6:8.1f} us [{wire_med * 1e6:.1f}]")


if __name__ == "__main__":
    main()
