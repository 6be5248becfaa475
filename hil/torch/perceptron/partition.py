"""A product on several devices: its 128 x 256 blocks dealt out to them, run in parallel.

A large matrix is split as the chip stack splits it (docs/torch.md#backends): blocks of
128 rows (one run's logical inputs) x 256 columns (one hemisphere's neurons). With at
least as many columns of blocks as devices, each device gets a contiguous share of the
columns of blocks with all their rows, in one :func:`hil.bss2.mac` call (a run then fills
both hemispheres where the share allows, and the device adds its row blocks itself);
otherwise block k goes to device k mod n. Each device runs its share on a thread of its
own while the others run theirs. Each block's output is int8 (the chip's readout clamps
it); the row blocks' partial sums are added and clamped to int8 again, as
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
    n = len(backends)
    col_blocks = -(-cols // BLOCK_COLS)
    if col_blocks >= n:
        # Contiguous shares of the columns of blocks: device d gets blocks [d*k/n, (d+1)*k/n).
        edges = [min(cols, (d * col_blocks // n) * BLOCK_COLS) for d in range(n + 1)]
        shares = [[(0, edges[d], edges[d + 1] - edges[d])] for d in range(n)]
        row_span = rows
    else:
        tiles = [(r0, c0, min(BLOCK_COLS, cols - c0)) for r0 in range(0, rows, BLOCK_ROWS)
                 for c0 in range(0, cols, BLOCK_COLS)]
        shares = [tiles[d::n] for d in range(n)]
        row_span = BLOCK_ROWS

    def run(device: int) -> list[tuple[int, np.ndarray]]:
        done = []
        with locks[device]:
            for r0, c0, width in shares[device]:
                done.append((c0, mac(backends[device], x[:, r0:r0 + row_span], W[r0:r0 + row_span, c0:c0 + width],
                                     num_sends=num_sends, wait_between_events=wait_between_events)))
        return done

    total = np.zeros((x.shape[0], cols), np.int64)
    for partials in pool.map(run, [d for d in range(n) if shares[d]]):
        for c0, y in partials:
            total[:, c0:c0 + y.shape[1]] += y
    return np.clip(total, g.OUTPUT_MIN, g.OUTPUT_MAX, out=total)
