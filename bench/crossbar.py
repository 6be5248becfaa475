"""Benchmark of the analog crossbar tile as users call it, against a float32 matmul of the same shape measured
in the same run and, where the ``peers`` extra is installed, aihwkit's CPU tile.

    .venv/bin/python bench/crossbar.py [--repeats 20] [--quick]
    .tox/peers/bin/python bench/crossbar.py            # with aihwkit

The forward: a batch of 1024 inputs U(-1, 1) of 128 -> 512 outputs, weights U(-0.3, 0.3), the default
inference periphery (7-bit DAC, 9-bit ADC, output noise 0.06, abs-max noise management, iterative bound
management). Timed, best and median of ``--repeats`` after a warm-up, one after the other:

* the tile as a user calls it: ``backend.run(hil.crossbar.Stimulus.forward(x))`` on
  ``hil.backend.open("emulator", family="crossbar", shape=(512, 128))`` with x a float32 numpy array (the
  Stimulus made, and checked, in every call);
* ``hil.torch.crossbar.AnalogLinear(128, 512, bias=False)`` on a float32 tensor, under ``torch.no_grad``;
* the C core alone (``VirtualTile.forward``), as a second line;
* the reference: numpy's float32 ``x @ W.T`` of the same shape;
* aihwkit's tile (``InferenceRPUConfig().create_tile(512, 128)``, ``tile(x)``), if aihwkit imports.

Target: the tile through the backend at most 3 x the matmul. Then the pulsed update per vector: 1024
vectors x (128 inputs, 512 errors) at lr 0.01 with the default update (BL 31, update management) through
``backend.run(Stimulus.update(x, d, lr))``, and aihwkit's ``SingleRPUConfig(ConstantStepDevice())`` tile's
``update`` where aihwkit imports. ``--quick`` (``tox -e bench``) does 5 repeats.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hil  # noqa: E402
from emulator._native import lib  # noqa: E402
from hil.crossbar import IOConfig, Stimulus, UpdateConfig  # noqa: E402
from hil.crossbar.types import Config  # noqa: E402

ROWS, COLS, BATCH = 512, 128, 1024
TARGET = 3.0
ISA_NAMES = {4: "x86-64-v4 (AVX-512)", 3: "x86-64-v3 (AVX2)", 0: "baseline x86-64"}


def timed(fn, repeats: int, warm: int = 3) -> tuple[float, float]:
    """(best, median) seconds of ``repeats`` calls after ``warm`` untimed ones."""
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


def line(name: str, t: tuple[float, float], ref: tuple[float, float] | None = None, unit: float = 1e3,
         suffix: str = "ms") -> None:
    ratio = f"   {t[0] / ref[0]:6.2f} x / {t[1] / ref[1]:6.2f} x the matmul (best / median)" if ref else ""
    print(f"  {name:<46} best {t[0] * unit:9.3f} {suffix}  median {t[1] * unit:9.3f} {suffix}{ratio}", flush=True)


def aihwkit_tiles():
    """(forward tile, update tile, version) of aihwkit, or None where it does not import."""
    try:
        import aihwkit
        import torch  # noqa: F401
        from aihwkit.simulator.configs import InferenceRPUConfig, SingleRPUConfig
        from aihwkit.simulator.configs.devices import ConstantStepDevice
    except ImportError:
        return None
    fwd = InferenceRPUConfig().create_tile(ROWS, COLS)
    upd = SingleRPUConfig(device=ConstantStepDevice()).create_tile(ROWS, COLS)
    return fwd, upd, aihwkit.__version__


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="5 repeats")
    args = ap.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.3, 0.3, (ROWS, COLS)).astype(np.float32)
    x = rng.uniform(-1, 1, (BATCH, COLS)).astype(np.float32)
    d = rng.normal(0, 0.1, (BATCH, ROWS)).astype(np.float32)
    wt = np.ascontiguousarray(w.T)
    backend = hil.backend.open("emulator", family="crossbar", shape=(ROWS, COLS))
    backend.configure(Config(w))
    print(f"crossbar tile {ROWS} x {COLS}, batch {BATCH}; code path {ISA_NAMES.get(lib.bss2_isa())}, "
          f"{lib.bss2_threads()} threads; numpy {np.__version__}", flush=True)
    rounds = backend.run(Stimulus.forward(x)).rounds
    print(f"  bound-management rounds of the batch: {np.bincount(rounds).tolist()}")
    print("forward")
    ref = timed(lambda: x @ wt, repeats)
    line("numpy float32 x @ W.T (the reference)", ref)
    line("backend.run(Stimulus.forward(x))", timed(lambda: backend.run(Stimulus.forward(x)), repeats), ref)
    io = IOConfig()
    line("the C core alone (VirtualTile.forward)", timed(lambda: backend.tile.forward(x, io), repeats), ref)
    try:
        import torch

        from hil.torch.crossbar import AnalogLinear
    except ImportError as exc:
        print(f"  AnalogLinear: not measured ({exc})")
    else:
        layer = AnalogLinear(COLS, ROWS, bias=False)
        layer.set_weights(torch.from_numpy(w))
        xt = torch.from_numpy(x)

        def analog_linear():
            with torch.no_grad():
                return layer(xt)
        line("AnalogLinear(128, 512)(x), torch.no_grad", timed(analog_linear, repeats), ref)
    peers = aihwkit_tiles()
    if peers is None:
        print("  aihwkit: not installed (the peers extra, tox -e peers)")
    else:
        import torch
        fwd, upd, version = peers
        fwd.set_weights(torch.from_numpy(w))
        fwd.eval()
        xt = torch.from_numpy(x)

        def aihwkit_forward():
            with torch.no_grad():
                return fwd(xt)
        line(f"aihwkit {version} tile(x) (InferenceRPUConfig)", timed(aihwkit_forward, repeats), ref)
    print("pulsed update, per vector")
    update = UpdateConfig()
    per = 1e6 / BATCH

    def ours():
        backend.configure(Config(w))
        backend.run(Stimulus.update(x, d, 0.01))
    line("backend.run(Stimulus.update(x, d, 0.01))", timed(ours, max(3, repeats // 4), warm=1), unit=per, suffix="us")
    r = backend.run(Stimulus.update(x, d, 0.01))
    print(f"    BL {int(r.bl.min())}..{int(r.bl.max())}, row / column pulses per vector "
          f"{r.pulses[:, 0].mean():.0f} / {r.pulses[:, 1].mean():.0f} ({update.desired_bl} slots at most)")
    if peers is not None:
        import torch
        upd.set_weights(torch.from_numpy(w))
        upd.set_learning_rate(0.01)
        xt, dt = torch.from_numpy(x), torch.from_numpy(d)
        line("aihwkit tile.update(x, d) (ConstantStepDevice)", timed(lambda: upd.update(xt, dt), max(3, repeats // 4),
                                                                    warm=1), unit=per, suffix="us")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
