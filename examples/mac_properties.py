"""The seed's tour of the analog MAC (seed 000), through the perceptron API, on any backend.

    python examples/mac_properties.py [--backend emulator] [--serial EMU-0001] [--out mac_properties.png]

1. Noise and fixed-pattern deviations (seed 000, figure 1): one input row, the
   same weight on the 256 neurons of hemisphere 0, plotted per neuron as the
   seed plots them: two halves, the left one mirrored, so that the columns next
   to the synapse drivers meet in the middle (in this rig's geometry the
   drivers sit between columns 127 and 128, docs/chip_model.md).
2. Linearity (seed 000, figure 2): a constant input times the weight ramp
   -63..63, each weight on two neighbouring columns (254 columns).

Both products are ``hil.torch.perceptron.matmul`` calls, as in the seed; the
noise of each neuron is printed from ``--repeats`` calls of the first product.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import torch  # noqa: E402

import hil  # noqa: E402
from emulator.bss2.fixed_pattern import row_distance  # noqa: E402
from hil.results.plots import columns_from_drivers  # noqa: E402
from hil.torch import perceptron  # noqa: E402

COLUMNS = 256
"""One hemisphere's neurons."""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="emulator")
    ap.add_argument("--serial", default=None)
    ap.add_argument("--num-sends", type=int, default=100)
    ap.add_argument("--input", type=int, default=12)
    ap.add_argument("--weight", type=int, default=21)
    ap.add_argument("--row", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=20, help="calls of the first product for the noise (>= 2)")
    ap.add_argument("--out", default="mac_properties.png")
    args = ap.parse_args(argv)
    options = {"serial": args.serial} if args.serial else {}

    with hil.backend.open(args.backend, **options) as chip, perceptron.init(chip):
        device = f"{chip.info().backend}:{chip.info().serial}"
        x = torch.tensor([0.0] * args.row + [float(args.input)])
        same = torch.full((args.row + 1, COLUMNS), float(args.weight))
        calls = torch.stack([perceptron.matmul(x, same, num_sends=args.num_sends)
                             for _ in range(max(2, args.repeats))])
        per_neuron = calls[0].numpy()
        weight = torch.arange(-63, 64.0).repeat_interleave(2)
        ramp = perceptron.matmul(x, weight.unsqueeze(0).expand(args.row + 1, -1), num_sends=args.num_sends)
        weight, ramp = weight.numpy(), ramp.numpy()

    half = COLUMNS // 2
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for side, (ax, pos) in enumerate(zip(axes[:2], columns_from_drivers(row_distance(), half))):
        cols = side * half + np.arange(half)
        ax.plot(pos, per_neuron[cols], ".", ms=3)
        ax.set_xlim(-0.5, half - 0.5)
        ax.set_xticks(pos[cols % 32 == 0], [str(c) for c in cols[cols % 32 == 0]])
        ax.set_ylim(-130, 130)
        ax.set_xlabel("neuron #")
    axes[0].invert_xaxis()          # the left half mirrored: the drivers in the middle
    axes[0].set_ylabel("output (LSB)")
    axes[2].plot(weight, ramp, ".", ms=3)
    axes[2].set_xlabel("weight")
    axes[2].set_ylim(-130, 130)
    fig.suptitle(f"{device}: input {args.input} on row {args.row}, weight {args.weight}, {args.num_sends} sends")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    noise = calls.std(dim=0)
    print(f"per-neuron output {per_neuron.min():.0f}..{per_neuron.max():.0f}; noise per neuron over "
          f"{len(calls)} calls: median {noise.median():.2f} LSB, largest {noise.max():.2f} LSB; wrote {args.out}")


if __name__ == "__main__":
    main()
