"""Benchmark of training with the chip in the loop: Yin-Yang training steps per second.

    .venv/bin/python bench/train.py [--repeats 60] [--threads 1] [--boards 1,2,4] [--profile]

Measured in one run, in one process (the virtual boards in processes of their own):

1. Throughput of a training step (``examples/yin_yang.py: train_step``: zero_grad, forward,
   cross-entropy, backward, Adam step) on a batch of 350, in samples/s, for three models of
   the same shape called alternately, one step each per repeat, so that all three see the
   same machine: plain float torch (Linear(4, 128) -> ReLU -> Linear(128, 3)), the seed's
   model in mock mode, and the same model in the loop on the emulated chip. Target
   (issue 16): in the loop at most 3 x slower than plain torch, median against median.
2. The accuracy after each phase of ``examples/yin_yang.py`` (its default sizes), and of the
   plain torch model trained alike. Targets: >= 95 % mock, >= 93 % in the loop.
3. The speed-up of a large product (batch 256, 512 x 1024: 16 blocks of 128 x 256) on 1, 2
   and 4 virtual boards (``hil serve`` processes) against one board.
4. With ``--profile``: where a step in the loop spends its time (cProfile, by own time).

A figure that misses its target is flagged ``** misses target **``.
"""
import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hil  # noqa: E402
from bench.board import flag  # noqa: E402
from hil.server.process import BoardProcess  # noqa: E402
from hil.torch import perceptron  # noqa: E402
from hil.torch.yin_yang import YinYang  # noqa: E402

# The example by its path: a package named ``examples`` elsewhere on sys.path must not shadow it.
_spec = importlib.util.spec_from_file_location("yin_yang_example", ROOT / "examples" / "yin_yang.py")
yin_yang = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(yin_yang)

BATCH = 350
"""Samples per training step (the seed's batch)."""
TARGET_SLOWDOWN = 3.0
"""In-the-loop step time / plain torch step time, at most."""
TARGET_MOCK_ACCURACY, TARGET_CHIP_ACCURACY = 0.95, 0.93
LARGE = (256, 512, 1024)
"""(batch, rows, cols) of the product timed on several boards."""


def plain_model() -> torch.nn.Module:
    """The seed's model in float torch: the same layers, without the chip's ranges."""
    return torch.nn.Sequential(torch.nn.Linear(4, 128), torch.nn.ReLU(), torch.nn.Linear(128, 3))


def throughput(repeats: int, profile: bool) -> None:
    x, labels = YinYang().sample(BATCH, 11)
    torch.manual_seed(0)
    models = {"plain torch": plain_model(), "mock": yin_yang.Model(mock=True), "in the loop": yin_yang.Model()}
    lr = {"plain torch": 0.01, "mock": 1.0, "in the loop": 0.2}
    optimizers = {k: torch.optim.Adam(m.parameters(), lr=lr[k]) for k, m in models.items()}
    times = {k: [] for k in models}
    for i in range(repeats + 5):
        for k, m in models.items():
            t = time.perf_counter()
            yin_yang.train_step(m, optimizers[k], x, labels)
            if i >= 5:      # warm-up: the chip's first configuration, torch's first calls
                times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"1. training step, batch {BATCH}, median [best] of {repeats} alternating steps:")
    for k in models:
        ratio = med[k] / med["plain torch"]
        target = f"  (target <= {TARGET_SLOWDOWN:g} x){flag(ratio <= TARGET_SLOWDOWN)}" if k == "in the loop" else ""
        print(f"   {k:12s} {med[k] * 1e3:7.3f} ms [{min(times[k]) * 1e3:.3f}]  {BATCH / med[k]:9.0f} samples/s  "
              f"{ratio:5.2f} x plain torch{target}")
    if profile:
        model, optimizer = models["in the loop"], optimizers["in the loop"]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(repeats):
            yin_yang.train_step(model, optimizer, x, labels)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        total = stats.total_tt
        on_chip = sum(v[3] for f, v in stats.stats.items() if f[2] == "mac" and f[0].endswith("bss2/mac.py"))
        print(f"   profile of {repeats} steps in the loop: {total * 1e3 / repeats:.3f} ms per step under cProfile, "
              f"{on_chip / total:.0%} in hil.bss2.mac (the emulated chip, validation included); by own time:")
        stats.sort_stats("tottime").print_stats(12)
        print("\n".join("     " + line for line in out.getvalue().splitlines()
                        if line.strip() and not line.startswith(("   Ordered", "   List"))))


def accuracies() -> None:
    print("2. accuracy on the held-out test set after each phase (examples/yin_yang.py defaults):")
    outcome = yin_yang.run(out=None, report=lambda line: print("   " + line))
    torch.manual_seed(0)
    x, labels = YinYang().sample(yin_yang.DEFAULTS.train_size, yin_yang.TRAIN_SEED)
    test = YinYang().sample(yin_yang.DEFAULTS.test_size, yin_yang.TEST_SEED)
    model = plain_model()
    yin_yang.train(model, x * 31, labels, yin_yang.Phase(yin_yang.DEFAULTS.mock.epochs, 0.01, 0.95),
                   yin_yang.DEFAULTS.batch_size, 0)
    with torch.no_grad():
        plain = float((model(test[0] * 31).argmax(dim=1) == test[1]).float().mean())
    print(f"   plain torch, trained alike: {plain:.1%}")
    print(f"   mock {outcome.mock_accuracy:.1%} (target >= {TARGET_MOCK_ACCURACY:.0%})"
          f"{flag(outcome.mock_accuracy >= TARGET_MOCK_ACCURACY)}; in the loop {outcome.chip_accuracy:.1%} "
          f"(target >= {TARGET_CHIP_ACCURACY:.0%}){flag(outcome.chip_accuracy >= TARGET_CHIP_ACCURACY)}")


def boards(counts: list[int], repeats: int) -> None:
    batch, rows, cols = LARGE
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, 32, (batch, rows), generator=gen).float()
    W = torch.randint(-63, 64, (rows, cols), generator=gen).float()
    print(f"3. a {batch} x {rows} -> {cols} product ({rows // 128 * cols // 256} blocks of 128 x 256) on virtual "
          f"boards, best [median] of {repeats} ({os.cpu_count()} CPUs):")
    procs = [BoardProcess(serial=f"EMU-01{i:02d}") for i in range(max(counts))]
    devices = []
    try:
        devices = [hil.backend.open("board", resource=p.resource) for p in procs]
        one = None
        for n in counts:
            with perceptron.init(*devices[:n]):
                perceptron.matmul(x, W)
                t = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    perceptron.matmul(x, W)
                    t.append(time.perf_counter() - t0)
            one = one or min(t)
            print(f"   {n} board{'s' if n > 1 else ' '} {min(t) * 1e3:8.1f} ms [{statistics.median(t) * 1e3:.1f}]  "
                  f"speed-up {one / min(t):4.2f} x")
    finally:
        for d in devices:
            d.close()
        for p in procs:
            p.close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=60, help="timed steps per model (default 60)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads for every model (default 1: these layers are too small to share)")
    ap.add_argument("--boards", default="1,2,4", help="board counts of part 3 (default 1,2,4; '' skips it)")
    ap.add_argument("--no-accuracy", action="store_true", help="skip part 2 (the full example, about a minute)")
    ap.add_argument("--profile", action="store_true", help="profile the steps in the loop")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s), {os.cpu_count()} CPUs, "
          f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    throughput(args.repeats, args.profile)
    if not args.no_accuracy:
        accuracies()
    if args.boards:
        boards([int(n) for n in args.boards.split(",")], max(3, args.repeats // 10))
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
