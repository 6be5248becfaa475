"""Sizes and limits of the analog crossbar tile family (docs/crossbar.md#limits).

A tile holds a matrix of ``rows`` (outputs, the backward pass's inputs) x ``columns`` (inputs) resistive
devices. Every buffer a run needs is bounded by these limits, so that a client cannot make a board hold
more than they allow.
"""
SIZE_MAX = 4096
"""Rows or columns of one tile at most."""
SHAPE_DEFAULT = (512, 128)
"""(rows, columns) of a tile opened without a shape: 512 outputs of 128 inputs."""
BATCH_MAX = 65536
"""Vectors in one run at most."""
ELEMENTS_MAX = 1 << 25
"""batch x (rows + columns) of one run at most (32 Mi values: 128 MiB of float32 in and out)."""
BL_MAX = 64
"""The longest pulse train of the pulsed update (a 64-bit word per row or column)."""
ROUNDS_MAX = 32
"""Rounds of the iterative bound management at most (reductions 1, 2, 4, ... 2^31)."""
SPAN = SIZE_MAX
"""Counters reserved per row or column in the counter-based noise: a value depends on the run, the vector's
index in its run, the round and the element, never on the batch's size or the threads."""
