"""A product on several devices: its 128 x 256 blocks dealt out to them, run in parallel.

A large matrix is split as the chip stack splits it (docs/torch.md#backends): blocks of
128 rows (one run's logical inputs) x 256 columns (one hemisphere's neurons). Block k
goes to device k mod n; each device runs its blocks one after another on a thread of
its own, while the others run theirs. Each block's output is int8 (the chip's readout
clamps it); the host adds the row blocks' partial sums and clamps to int8 again, as
:func:`hil.bss2.mac` does on one device.
"""
import numpy as np

from emulator.bss2 import geometry as g

from ...bss2.mac import mac

BLOCK_ROWS = g.MAC_INPUTS
"""128 logical inputs per block."""
BLOCK_COLS = g.COLUMNS_PER_HEMISPHERE
"""256 columns (one hemisphere's neurons) per block."""


def product(backends, locks, pool, x: np.ndarray, W: np.ndarray, num_sends: int,
            wait_between_events: int) -> np.ndarray:
    """``x @ W`` (x: (batch, rows) 0..31, W: (rows, cols) -63..63, float32 integers) on
    ``backends``; returns (batch, cols) int64 in -128..127.

    One device gets the whole product in one :func:`hil.bss2.mac` call (which splits it
    into runs of its own geometry). Several get the blocks, each under its lock.
    """
    if len(backends) == 1:
        with locks[0]:
            return mac(backends[0], x, W, num_sends=num_sends, wait_between_events=wait_between_events)
    rows, cols = W.shape
    blocks = [(r0, c0) for r0 in range(0, rows, BLOCK_ROWS) for c0 in range(0, cols, BLOCK_COLS)]

    def run(device: int) -> list[tuple[int, int, np.ndarray]]:
        done = []
        with locks[device]:
            for r0, c0 in blocks[device::len(backends)]:
                xb = x[:, r0:r0 + BLOCK_ROWS]
                Wb = W[r0:r0 + BLOCK_ROWS, c0:c0 + BLOCK_COLS]
                done.append((r0, c0, mac(backends[device], xb, Wb, num_sends=num_sends,
                                         wait_between_events=wait_between_events)))
        return done

    used = min(len(backends), len(blocks))
    total = np.zeros((x.shape[0], cols), np.int64)
    for partials in pool.map(run, range(used)):
        for _, c0, y in partials:
            total[:, c0:c0 + y.shape[1]] += y
    return np.clip(total, g.OUTPUT_MIN, g.OUTPUT_MAX, out=total)
