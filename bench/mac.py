"""Benchmark of ``hil.bss2.mac`` as users call it, against a float32 numpy matmul.

    .venv/bin/python bench/mac.py [--repeats 51] [--serial EMU-0001]

For each of five shapes (batch x rows -> cols) it times, in the same process:

(a) a float32 numpy matmul of the same shape, ``(batch, rows) @ (rows, cols)``;
(b) ``hil.bss2.mac(backend, x, W)`` on an in-process emulator, with int64
    ``x`` and ``W`` as ``numpy.random.Generator.integers`` returns them (so
    every call validates and converts both, and configures the chip).

The two are called alternately, one call each per repeat, so that both see the
same machine (other processes, the idle OpenBLAS threads that keep spinning
after a matmul). Each line gives the best and the median of ``--repeats``
calls. Targets (issue 13): the full run <= 1.3 x its matmul, the four blocks
<= 1.5 x, each small shape <= 40 us above its matmul.

A second line times the C core alone, ``VirtualChip.run_mac`` on a configured
chip (128 x 512, batch 1024), against the same matmul as the full run.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hil  # noqa: E402
from emulator._native import lib  # noqa: E402
from emulator.bss2 import VirtualChip, geometry as g  # noqa: E402

ISA_NAMES = {4: "x86-64-v4 (AVX-512)", 3: "x86-64-v3 (AVX2)", 0: "baseline x86-64"}

SHAPES = (
    # (label, batch, rows, cols, target): target is ("ratio", r) or ("above", seconds)
    ("one full run", 1024, 128, 512, ("ratio", 1.3)),
    ("four blocks", 1024, 256, 1024, ("ratio", 1.5)),
    ("first Yin-Yang layer", 350, 4, 128, ("above", 40e-6)),
    ("last Yin-Yang layer", 350, 128, 3, ("above", 40e-6)),
    ("one vector", 1, 128, 512, ("above", 40e-6)),
)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def alternate(f, g_, repeats: int) -> tuple[list[float], list[float]]:
    """Times of f and g_ called alternately, after a short warm-up, in seconds."""
    for _ in range(3):
        f()
        g_()
    tf, tg = [], []
    for _ in range(repeats):
        tf.append(timed(f))
        tg.append(timed(g_))
    return tf, tg


def verdict(target, mat: float, mac: float) -> str:
    kind, value = target
    if kind == "ratio":
        ok, what = mac / mat <= value, f"target <= {value:g} x"
    else:
        ok, what = mac - mat <= value, f"target <= {value * 1e6:.0f} us above"
    return f"({what})" + ("" if ok else "  ** misses target **")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=51, help="timed calls per method and shape (default 51)")
    ap.add_argument("--serial", default="EMU-0001", help="serial of the virtual chip (default EMU-0001)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")

    rng = np.random.default_rng(args.seed)
    print(f"hil.bss2.mac on the emulator {args.serial} (int64 inputs, num_sends=1, noise and fixed "
          f"pattern on) against a float32 numpy matmul of the same shape")
    print(f"code path {ISA_NAMES.get(lib.bss2_isa(), lib.bss2_isa())}, {lib.bss2_threads()} threads "
          f"({os.cpu_count()} CPUs), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"best of {args.repeats} calls each, alternating [median in brackets]:")
    full_matmul = None
    with hil.backend.open("emulator", serial=args.serial) as backend:
        for label, batch, rows, cols, target in SHAPES:
            x = rng.integers(0, g.ACTIVATION_MAX + 1, (batch, rows))
            W = rng.integers(-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX + 1, (rows, cols))
            a = rng.standard_normal((batch, rows)).astype(np.float32)
            b = rng.standard_normal((rows, cols)).astype(np.float32)
            out = np.empty((batch, cols), np.float32)
            t_mat, t_mac = alternate(lambda: np.matmul(a, b, out=out),
                                     lambda: hil.bss2.mac(backend, x, W), args.repeats)
            mat, mac = min(t_mat), min(t_mac)
            if (batch, rows, cols) == (1024, 128, 512):
                full_matmul = (a, b, out)
            print(f"{batch:5d} x {rows:3d} -> {cols:4d} {label + ':':22s} matmul {mat * 1e6:8.1f} us "
                  f"[{np.median(t_mat) * 1e6:.1f}]  mac {mac * 1e6:8.1f} us [{np.median(t_mac) * 1e6:.1f}]  "
                  f"ratio {mac / mat:6.2f} [{np.median(t_mac) / np.median(t_mat):.2f}]  "
                  f"above {(mac - mat) * 1e6:7.1f} us  {verdict(target, mat, mac)}")

    # The C core alone on a configured chip, against the matmul of the full run.
    a, b, out = full_matmul
    chip = VirtualChip(args.serial)
    chip.configure_mac(rng.integers(-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX + 1,
                                    (g.MAC_INPUTS, g.MAC_OUTPUTS)).astype(np.int8))
    inputs = rng.integers(0, g.ACTIVATION_MAX + 1, (1024, g.MAC_INPUTS)).astype(np.uint8)
    t_mat, t_core = alternate(lambda: np.matmul(a, b, out=out), lambda: chip.run_mac(inputs), args.repeats)
    mat, core = min(t_mat), min(t_core)
    print(f"C core alone (VirtualChip.run_mac, 1024 x 128 -> 512, configured chip): matmul "
          f"{mat * 1e6:8.1f} us [{np.median(t_mat) * 1e6:.1f}]  run_mac {core * 1e6:8.1f} us "
          f"[{np.median(t_core) * 1e6:.1f}]  ratio {core / mat:.2f} [{np.median(t_core) / np.median(t_mat):.2f}]")
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
