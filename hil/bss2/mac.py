"""``hil.bss2.mac``: matrix multiplication of any size on the chip's MAC mode.

Like the real software stack, a large product is split into blocks of 128
rows x 256 columns (two per run, one per hemisphere), each block is run on the
chip, and the int8 partial sums of the row blocks are added digitally and
clamped to int8 again.
"""
import numpy as np

from emulator.bss2 import geometry as g

from .types import MacConfig, MacStimulus, mac_shape, matmul_operands


def mac(backend, x, W, num_sends: int = 1, wait_between_events: int = 5) -> np.ndarray:
    """``x @ W`` on the chip.

    x: (rows,) or (batch, rows) activations, integers 0..31.
    W: (rows, cols) signed weights, integers -63..63.
    num_sends: repetitions of each input vector, 1..1024.
    wait_between_events: FPGA cycles (8 ns) between events, 0..4095.

    Returns int64 outputs of shape (cols,) or (batch, cols), each in -128..127.

    ``x`` and ``W`` are checked and converted once, in one pass each. A backend
    that computes the whole product itself (``mac_product(x, W, num_sends,
    wait_between_events)`` on uint8 ``x`` and int8 ``W``: the emulator) gets it in
    one call; any other gets one ``configure_and_run`` per block of its geometry's
    ``mac_inputs`` rows x ``mac_outputs`` columns (128 x 512 on the chip, less on a
    reduced RTL core) and per ``max_batch`` vectors, then ``run`` for the further
    pieces of the batch. Both give the same results: the same runs, in the same order.
    """
    one_vector = (x.ndim if type(x) is np.ndarray else np.ndim(x)) == 1
    x, W, num_sends, wait_between_events = matmul_operands(x, W, num_sends, wait_between_events)
    product = getattr(backend, "mac_product", None)
    if product is not None:
        out = product(x, W, num_sends, wait_between_events)
    else:
        out = blockwise(backend, x, W, num_sends, wait_between_events)
    return out[0] if one_vector else out


def blockwise(backend, x: np.ndarray, W: np.ndarray, num_sends: int, wait_between_events: int) -> np.ndarray:
    """The product on any backend, one configuration and run per block (checked uint8 ``x``,
    int8 ``W``); what ``mac_product`` of a backend must equal."""
    batch, rows = x.shape
    cols = W.shape[1]
    geometry = backend.info().geometry
    block_rows, block_cols = mac_shape(geometry)
    max_batch = int(geometry.get("max_batch", g.MAX_BATCH))
    total = np.zeros((batch, cols), np.int64)
    for r0 in range(0, rows, block_rows):
        r1 = min(r0 + block_rows, rows)
        inputs = np.zeros((batch, block_rows), np.uint8)
        inputs[:, :r1 - r0] = x[:, r0:r1]
        for c0 in range(0, cols, block_cols):
            c1 = min(c0 + block_cols, cols)
            weights = np.zeros((block_rows, block_cols), np.int8)
            weights[:r1 - r0, :c1 - c0] = W[r0:r1, c0:c1]
            config = MacConfig(weights=weights)
            for b0 in range(0, batch, max_batch):
                b1 = min(b0 + max_batch, batch)
                stimulus = MacStimulus(inputs=inputs[b0:b1], num_sends=num_sends,
                                       wait_between_events=wait_between_events)
                # The first run of a block goes with its configuration (one round trip on a board).
                readout = backend.configure_and_run(config, stimulus) if b0 == 0 else backend.run(stimulus)
                total[b0:b1, c0:c1] += readout.outputs[:, :c1 - c0]
    # The digital sum of the partial results is clamped to int8, as on the real stack.
    return np.clip(total, g.OUTPUT_MIN, g.OUTPUT_MAX)
