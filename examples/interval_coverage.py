"""How often each metric's 95 % interval holds the metric's expected value on one emulated chip.

Runs every experiment ``--runs`` times on the same chip (each run new temporal noise), takes the
mean of a metric's values as its expected value, and counts the runs whose interval holds it.
Prints one markdown row per metric: runs, coverage, and the mean half-width over the values'
standard deviation (1.96 for an interval exactly as wide as it needs to be; more: conservative).
docs/fidelity.md#intervals shows its output for EMU-0042.

    python examples/interval_coverage.py --runs 300 bss2.mac_noise bss2.mac_fixed_pattern

A run of 300 takes from seconds (mac_neuron_profile) to minutes (mac_noise, mac_gain) on 2 cores.
"""
import argparse

import numpy as np

import hil


def coverage(name: str, runs: int, serial: str) -> list[str]:
    with hil.backend.open("emulator", serial=serial) as chip:
        results = [hil.experiment.run(name, chip) for _ in range(runs)]
    rows = []
    for first in results[0].metrics:
        ms = [r.metric(first.name) for r in results]
        if not all(m.has_interval for m in ms):
            rows.append(f"| `{name}` | `{first.name}` | {runs} | no interval: {ms[0].no_interval} | |")
            continue
        values = np.array([m.value for m in ms])
        expected, sd = values.mean(), values.std(ddof=1)
        held = np.mean([m.low <= expected <= m.high for m in ms])
        half = np.mean([(m.high - m.low) / 2 for m in ms])
        rows.append(f"| `{name}` | `{first.name}` | {runs} | {held:.1%} | {half / sd:.1f} |" if sd > 0 else
                    f"| `{name}` | `{first.name}` | {runs} | {held:.1%} | — (the value never changed) |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", help="default: every bss2 experiment")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--serial", default="EMU-0042")
    args = parser.parse_args()
    names = args.experiments or [n for n in hil.experiment.names() if n.startswith("bss2.")]
    print("| experiment | metric | runs | held the expected value | half-width / sd |")
    print("|---|---|---|---|---|")
    for name in names:
        print("\n".join(coverage(name, args.runs, args.serial)), flush=True)


if __name__ == "__main__":
    main()
