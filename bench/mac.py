"""Benchmark of the virtual chip's full MAC run against a plain numpy matmul.

    .venv/bin/python bench/mac.py [--batch 1024] [--repeats 50] [--serial EMU-0001]

Times, in the same process, best of ``--repeats`` after a warm-up:

(a) a plain float32 numpy matmul of the same shape, (batch, 128) @ (128, 512);
(b) the straightforward numpy reference of the model (``emulator.bss2.reference``);
(c) the emulator's ``VirtualChip.run_mac`` (128 x 512, num_sends=1, noise and
    fixed pattern on), the C core.

The matmul and the emulator are called alternately, one call each per repeat, so
that both see the same machine (other processes, the idle OpenBLAS threads that
keep spinning after a matmul). The target is emulator <= 2 x matmul.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator._native import lib  # noqa: E402
from emulator.bss2 import VirtualChip, geometry as g, reference  # noqa: E402

TARGET = 2.0
ISA_NAMES = {4: "x86-64-v4 (AVX-512)", 3: "x86-64-v3 (AVX2)", 0: "baseline x86-64"}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024, help="input vectors per run (default 1024)")
    ap.add_argument("--repeats", type=int, default=50, help="timed calls per method (default 50)")
    ap.add_argument("--serial", default="EMU-0001", help="serial of the virtual chip (default EMU-0001)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    args = ap.parse_args(argv)
    if not 1 <= args.batch <= g.MAX_BATCH or args.repeats < 1:
        ap.error(f"--batch must be in 1..{g.MAX_BATCH} and --repeats >= 1")

    rng = np.random.default_rng(args.seed)
    weights = rng.integers(-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX + 1,
                           (g.MAC_INPUTS, g.MAC_OUTPUTS)).astype(np.int8)
    inputs = rng.integers(0, g.ACTIVATION_MAX + 1, (args.batch, g.MAC_INPUTS)).astype(np.uint8)
    a = rng.standard_normal((args.batch, g.MAC_INPUTS)).astype(np.float32)
    b = rng.standard_normal((g.MAC_INPUTS, g.MAC_OUTPUTS)).astype(np.float32)
    out = np.empty((args.batch, g.MAC_OUTPUTS), np.float32)

    chip = VirtualChip(args.serial)
    chip.configure_mac(weights)

    def matmul():
        np.matmul(a, b, out=out)

    def emulator():
        chip.run_mac(inputs)

    def ref():
        reference.run_mac(chip, inputs)

    # Agreement of the C core and the reference on one run (not timed).
    expected = reference.run_mac(chip, inputs)
    diff = chip.run_mac(inputs).astype(np.int16) - expected

    for _ in range(5):  # warm-up
        matmul()
        emulator()
    t_mat, t_emu = [], []
    for _ in range(args.repeats):
        t_mat.append(timed(matmul))
        t_emu.append(timed(emulator))
    ref()
    t_ref = [timed(ref) for _ in range(max(3, min(args.repeats, 10)))]
    mat, emu, rf = min(t_mat), min(t_emu), min(t_ref)

    print(f"virtual chip {args.serial}: MAC run of {args.batch} x {g.MAC_INPUTS} inputs -> "
          f"{g.MAC_OUTPUTS} outputs, num_sends=1, noise and fixed pattern on")
    print(f"code path {ISA_NAMES.get(lib.bss2_isa(), lib.bss2_isa())}, {lib.bss2_threads()} threads "
          f"({os.cpu_count()} CPUs), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"C core vs reference: {np.mean(diff == 0) * 100:.4f} % identical, max |diff| "
          f"{int(np.abs(diff).max())} LSB")
    print(f"best of {args.repeats} (median in brackets):")
    print(f"(a) numpy float32 matmul ({args.batch},{g.MAC_INPUTS})@({g.MAC_INPUTS},{g.MAC_OUTPUTS}): "
          f"{mat * 1e3:8.3f} ms  [{np.median(t_mat) * 1e3:.3f}]")
    print(f"(b) numpy reference (emulator.bss2.reference):    {rf * 1e3:8.3f} ms  "
          f"[{np.median(t_ref) * 1e3:.3f}]")
    print(f"(c) emulator VirtualChip.run_mac (C core):         {emu * 1e3:8.3f} ms  "
          f"[{np.median(t_emu) * 1e3:.3f}]")
    print(f"ratio reference/matmul = {rf / mat:.1f}")
    print(f"ratio emulator/reference = {emu / rf:.4f} (the C core is {rf / emu:.0f}x faster)")
    ratio = emu / mat
    print(f"ratio emulator/matmul = {ratio:.2f} (target <= {TARGET:.1f})"
          f"{'' if ratio <= TARGET else '  ** above target **'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
