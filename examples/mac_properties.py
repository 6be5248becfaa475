"""The seed's tour of the analog MAC, on any backend.

    python examples/mac_properties.py [--backend emulator] [--serial EMU-0001] [--out mac_properties.png]

1. Noise and fixed-pattern deviations: one input row, the same weight on all
   256 neurons of each hemisphere, plotted per neuron (hemisphere 0 mirrored,
   as the drivers sit in the middle).
2. Linearity: a constant input times a weight ramp -63..63 (two columns each).
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import hil  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="emulator")
    ap.add_argument("--serial", default=None)
    ap.add_argument("--num-sends", type=int, default=100)
    ap.add_argument("--input", type=int, default=12)
    ap.add_argument("--weight", type=int, default=21)
    ap.add_argument("--row", type=int, default=0)
    ap.add_argument("--out", default="mac_properties.png")
    args = ap.parse_args(argv)
    options = {"serial": args.serial} if args.serial else {}

    with hil.backend.open(args.backend, **options) as chip:
        x = np.zeros(args.row + 1)
        x[args.row] = args.input
        per_neuron = hil.bss2.mac(chip, x, np.full((args.row + 1, 512), args.weight), num_sends=args.num_sends)
        weight = np.repeat(np.arange(-63, 64), 2)
        ramp = hil.bss2.mac(chip, x, np.tile(weight, (args.row + 1, 1)), num_sends=args.num_sends)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for ax, (lo, hi) in zip(axes[:2], [(0, 256), (256, 512)]):
        ax.plot(np.arange(lo, hi), per_neuron[lo:hi], ".", ms=3)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-130, 130)
        ax.set_xlabel("neuron #")
    axes[0].invert_xaxis()
    axes[0].set_ylabel("output")
    axes[2].plot(weight, ramp, ".", ms=3)
    axes[2].set_xlabel("weight")
    axes[2].set_ylim(-130, 130)
    fig.suptitle(f"input {args.input}, weight {args.weight}, {args.num_sends} sends")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"per-neuron output {per_neuron.min()}..{per_neuron.max()}, wrote {args.out}")


if __name__ == "__main__":
    main()
