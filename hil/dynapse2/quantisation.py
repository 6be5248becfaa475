"""One core's weights on the Dynap-SE2-like chip's four base weight currents (docs/dynapse2.md#mapping-a-network).

A core has four base weight currents Iw_0..Iw_3 (one bias generator each); a CAM entry selects a subset
of them with a 4-bit mask, and an event through it carries their sum. A weight is therefore one of the
15 nonzero subset sums ("levels") of the core's four currents; a mask 0 is an unused entry, so an exactly
zero weight is no connection and a nonzero weight always keeps a nonzero mask. Signs are not quantised
here: a weight's sign is its synapse type (AMPA or GABA), and the magnitudes of both share the currents.

:func:`quantise` chooses the currents and the masks of a core's weight magnitudes:

1. If :func:`decompose` finds generator currents whose levels are the magnitudes, it takes them:
   lossless. It finds those of every network :func:`hil.dynapse2.mapping.network_from_config` reads
   from a config :func:`hil.dynapse2.mapping.config` wrote, not of every representable set (see there).
2. Otherwise it alternates two exact steps from several starts, neither of which can raise the squared
   error: each weight's mask is the best of the 15 (its nearest level), and the four currents are the
   bounded least-squares fit to the weights given their masks (``scipy.optimize.lsq_linear``). The
   currents are then moved to settings the generators give and improved setting by setting on the
   generators' grid. The starts include the two simple alternatives, :func:`uniform_binary` and
   :func:`kmeans_fit`, taken as they are.
3. It writes the result in one canonical form, a function of the levels the weights use alone (the used
   currents ascending in Iw_0.., the lowest mask of equal levels): quantising the quantised weights
   again gives the same currents and masks, which is what makes a Config -> network -> Config round
   trip exact. Where the best code is not in a form :func:`decompose` can read back (a current that is
   never the one new current of the smallest value not yet given: cores with few distinct weights),
   the few weights that fix that are moved to nearby levels. Only then can the result be worse than the
   alternatives; on the report's matrices (:func:`quantisation_report`) it never is.

Every current the module returns is a current a base weight generator gives at some (coarse, fine)
(:func:`hil.dynapse2.bias_setting` of it gives it back exactly); errors are computed with those currents.
"""
from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans
from scipy.optimize import lsq_linear

from emulator.dynapse2 import biasgen, geometry as g

from ..contract.errors import InvalidValue
from . import bias_current, bias_setting

BASES = g.WEIGHT_CURRENTS
LEVELS = 1 << BASES
"""16 masks: 0 (unused) and the 15 nonzero subsets of the four base currents."""
WEIGHT_PARAMETERS = tuple(f"Iw_{k}" for k in range(BASES))
_BITS = ((np.arange(LEVELS)[:, None] >> np.arange(BASES)) & 1).astype(float)


def _grid() -> np.ndarray:
    """The sorted distinct currents (A) of a base weight generator over every (coarse, fine)."""
    coarse, fine = np.meshgrid(np.arange(biasgen.COARSE_MAX + 1), np.arange(biasgen.FINE_MAX + 1), indexing="ij")
    grids = [np.unique(biasgen.current(p, coarse, fine)) for p in WEIGHT_PARAMETERS]
    # One grid serves all four: Iw_0..Iw_3 share a transistor type and a scale factor.
    if not all(np.array_equal(grids[0], x) for x in grids[1:]):  # pragma: no cover - a table change
        raise RuntimeError("the base weight generators Iw_0..Iw_3 no longer share one transfer")
    grids[0].setflags(write=False)
    return grids[0]


GRID = _grid()
"""(1536,) A: every current a base weight generator gives, ascending (0.08 pA .. 0.49 uA)."""
WEIGHT_MAX = BASES * float(GRID[-1])
"""A: the largest weight a core can give (all four currents at their largest)."""


def realise(currents) -> np.ndarray:
    """The nearest generator currents (A) to ``currents``: what :func:`hil.dynapse2.bias_setting`
    followed by :func:`hil.dynapse2.bias_current` gives, computed on the sorted grid at once."""
    x = np.asarray(currents, float)
    i = np.clip(np.searchsorted(GRID, x), 1, len(GRID) - 1)
    lo, hi = GRID[i - 1], GRID[i]
    return np.where(x - lo <= hi - x, lo, hi)


def levels(bases) -> np.ndarray:
    """(2**len(bases),) A: the sum each mask selects, level[m] = the sum of bases[k] over the bits k of m,
    added in ascending k. This one order of additions is used everywhere, so that a level computed here
    and one computed from a Config are the same float."""
    out = np.zeros(1)
    for b in np.asarray(bases, float):
        out = np.concatenate([out, out + b])
    return out


def nearest(magnitudes, bases) -> np.ndarray:
    """(n,) uint8: each magnitude's mask 1..2**len(bases)-1 whose level lies nearest (of two equally near,
    the lower level; of equal levels, the lowest mask)."""
    lv = levels(bases)[1:]
    masks = np.arange(1, len(lv) + 1)
    order = np.lexsort((masks, lv))
    sv, sm = lv[order], masks[order]
    first = np.r_[True, np.diff(sv) != 0]
    sv, sm = sv[first], sm[first]
    x = np.asarray(magnitudes, float)
    if len(sv) == 1:
        return np.full(x.shape, sm[0], np.uint8)
    i = np.clip(np.searchsorted(sv, x), 1, len(sv) - 1)
    pick = np.where(x - sv[i - 1] <= sv[i] - x, i - 1, i)
    return sm[pick].astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Code:
    """A core's weight magnitudes as base currents and masks."""

    bases: np.ndarray
    """(u,) A, u 0..4: the base currents, each one a generator gives; from :func:`quantise`, the used ones
    in ascending order (Iw_0, Iw_1, ...; the rest of the four are unused)."""
    masks: np.ndarray
    """(n,) uint8 1..2**u-1: each weight's mask."""

    def __post_init__(self):
        for name, dtype in (("bases", float), ("masks", np.uint8)):
            a = np.array(getattr(self, name), dtype)
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def values(self) -> np.ndarray:
        """(n,) A: the weight each mask gives, ``levels(bases)[masks]``."""
        return levels(self.bases)[self.masks]

    def mse(self, magnitudes) -> float:
        """A**2: the mean squared difference from ``magnitudes``."""
        return float(np.mean((self.values - magnitudes) ** 2)) if len(self.masks) else 0.0


def _magnitudes(magnitudes) -> np.ndarray:
    try:
        m = np.asarray(magnitudes, float)
    except (TypeError, ValueError) as exc:
        raise InvalidValue("magnitudes", f"cannot be read as an array of amperes ({exc})") from None
    if m.ndim != 1:
        raise InvalidValue("magnitudes", f"has shape {m.shape}; expected (n,)")
    bad = np.flatnonzero(~(np.isfinite(m) & (m > 0) & (m <= WEIGHT_MAX)))
    if bad.size:
        i = int(bad[0])
        raise InvalidValue(f"magnitudes[{i}]", f"{float(m[i])!r} A is outside the allowed range: > 0 and <= "
                                               f"{WEIGHT_MAX:.4g} A (four base currents at their largest)")
    return m


def _sse(m: np.ndarray, bases: np.ndarray) -> float:
    return float(np.sum((levels(bases)[nearest(m, bases)] - m) ** 2))


def _setting_currents(bases) -> np.ndarray:
    """The currents of the settings :func:`hil.dynapse2.bias_setting` chooses for ``bases`` (A)."""
    return np.array([float(bias_current(p, *bias_setting(p, float(b)))) for p, b in zip(WEIGHT_PARAMETERS, bases)])


def uniform_binary(magnitudes) -> Code:
    """Alternative (a): binary-weighted uniform levels, base currents ``max / 15 x (1, 2, 4, 8)`` taken to
    their nearest settings, each weight at its nearest level."""
    m = _magnitudes(magnitudes)
    if not len(m):
        return Code(np.zeros(0), np.zeros(0, np.uint8))
    b = _setting_currents(m.max() / (LEVELS - 1) * 2.0 ** np.arange(BASES))
    return Code(b, nearest(m, b))


def kmeans_levels(magnitudes, start=None) -> np.ndarray:
    """(k,) A, ascending, k <= 15: free levels by Lloyd's k-means (``scipy.cluster.vq.kmeans``, which drops
    a level that loses every weight) from 15 quantiles of the distinct magnitudes, or from ``start``."""
    m = _magnitudes(magnitudes)
    if start is None:
        u = np.unique(m)
        k = min(LEVELS - 1, len(u))
        start = np.unique(np.quantile(u, (np.arange(k) + 0.5) / k))
    if len(start) == 1:   # kmeans reads a one-element guess as a number of levels
        return np.array([m.mean()])
    top = m.max()   # in units of the largest magnitude: kmeans' stopping threshold is absolute
    c, _ = kmeans((m / top)[:, None], (np.asarray(start, float) / top)[:, None], thresh=1e-12)
    return np.sort(c[:, 0]) * top


def _free_mse(m: np.ndarray, centres: np.ndarray) -> float:
    """A**2: the error of each magnitude at its nearest of ``centres`` (free levels)."""
    return float(np.min((m[:, None] - np.asarray(centres)[None, :]) ** 2, axis=1).mean())


def _fit(m: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The four currents (A, within the generators' range) that fit ``m`` best given the masks: bounded
    least squares on one row per mask, weighted by its count (the same minimum as one row per weight,
    whose squared error differs from it by a constant)."""
    count = np.bincount(masks, minlength=LEVELS).astype(float)
    total = np.bincount(masks, weights=m, minlength=LEVELS)
    on = count > 0
    root = np.sqrt(count[on])
    return lsq_linear(_BITS[on] * root[:, None], total[on] / root, bounds=(GRID[0], GRID[-1]), method="bvls").x


def kmeans_fit(magnitudes) -> Code:
    """Alternative (b): 15 k-means levels (:func:`kmeans_levels`), the i-th smallest given to mask i, the
    four currents fitted to them by bounded least squares, taken to their nearest settings; each weight
    at its nearest level of those (k-means levels are not in general subset sums, so this is the error
    a k-means code has once it is made representable)."""
    m = _magnitudes(magnitudes)
    if not len(m):
        return Code(np.zeros(0), np.zeros(0, np.uint8))
    c = kmeans_levels(m)
    b = _setting_currents(lsq_linear(_BITS[1:len(c) + 1], c, bounds=(GRID[0], GRID[-1]), method="bvls").x)
    return Code(b, nearest(m, b))


def _alternate(m: np.ndarray, bases: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Masks given currents, currents given masks, until the masks stop changing."""
    masks = nearest(m, bases)
    for _ in range(iterations):
        bases = _fit(m, masks)
        again = nearest(m, bases)
        if np.array_equal(again, masks):
            break
        masks = again
    return bases


def _descend(m: np.ndarray, bases: np.ndarray, reach: int = 2) -> tuple[np.ndarray, float]:
    """Generator currents near ``bases`` (on the grid) with the least squared error: one current at a time
    moved up to ``reach`` settings along the grid while that lowers the error."""
    idx = np.searchsorted(GRID, realise(bases))
    best = _sse(m, GRID[idx])
    while True:
        move = None
        for k in range(len(idx)):
            for step in range(-reach, reach + 1):
                j = idx[k] + step
                if step == 0 or not 0 <= j < len(GRID):
                    continue
                trial = idx.copy()
                trial[k] = j
                e = _sse(m, GRID[trial])
                if e < best:
                    best, move = e, trial
        if move is None:
            return GRID[idx], best
        idx = move


def decompose(values) -> tuple | None:
    """The fewest generator currents, ascending, whose levels hold every one of ``values`` (A, up to 15
    distinct, each the exact float :func:`levels` gives for some mask of those currents in ascending
    order), or None if the search finds none.

    The search adds one current at a time. The smallest value the currents so far do not give is some
    current not yet chosen plus a sum of chosen ones ("anchored"), or it needs two or more new currents
    at once; the search follows the first case, trying that value less each level so far, taken to the
    nearest grid current. So it finds every set of currents in which each current, in some order, is
    anchored (all 15 masks in use suffice; :func:`quantise` makes sure of it), and often others. It is
    deterministic: a function of the values alone."""
    v = np.unique(np.asarray(values, float))
    if not len(v):
        return ()
    if len(v) > LEVELS - 1:
        return None
    targets = v.tolist()

    def search(bases: list, u: int):
        # Levels of the chosen currents in ascending order: for masks within them, the very floats the
        # final currents' levels give (a subset keeps its order).
        have = levels(sorted(bases)).tolist()
        seen = set(have)
        missing = [x for x in targets if x not in seen]
        if not missing:
            return tuple(sorted(bases))
        if len(bases) == u:
            return None
        top = missing[0]
        for c in sorted({float(realise(top - s)) for s in have if s < top}):
            found = search(bases + [c], u)
            if found is not None:
                return found
        return None

    for u in range(1, BASES + 1):
        found = search([], u)
        if found is not None:
            return found
    return None


def _canonical(bases: np.ndarray, masks: np.ndarray) -> Code | None:
    """The canonical code of the weights ``levels(bases)[masks]``, or None if :func:`decompose` cannot
    find currents for them."""
    r = levels(bases)[masks]
    c = decompose(np.unique(r))
    if c is None:
        return None
    return Code(np.array(c), nearest(r, c))


def _anchored(m: np.ndarray, bases: np.ndarray, masks: np.ndarray) -> np.ndarray | None:
    """Masks near ``masks`` in which every used current is anchored (see :func:`decompose`): following
    the search, wherever the smallest value not yet given needs two new currents, the one weight it costs
    least to move is given a level of one new current plus chosen ones below that value. None if every
    weight is needed where it is."""
    lv = levels(bases)
    masks = masks.astype(np.int64)
    chosen, kept = 0, np.zeros(len(m), bool)    # kept: weights that carry an anchor
    while True:
        given = {float(lv[x]) for x in range(LEVELS) if not x & ~chosen}
        open_ = [int(x) for x in np.unique(masks) if x & ~chosen and float(lv[x]) not in given]
        if not open_:
            return masks.astype(np.uint8)
        low = min(lv[x] for x in open_)
        one = [x for x in open_ if lv[x] == low and bin(x & ~chosen).count("1") == 1]
        if one:
            chosen |= one[0]
            kept[np.flatnonzero(masks == one[0])[0]] = True
            continue
        targets = [(1 << r) | s for r in range(BASES) if not chosen >> r & 1 for s in range(LEVELS)
                   if not s & ~chosen and lv[(1 << r) | s] <= low]
        cost = (lv[targets][None, :] - m[:, None]) ** 2 - ((lv[masks] - m) ** 2)[:, None]
        cost[kept] = np.inf
        i, t = np.unravel_index(int(np.argmin(cost)), cost.shape)
        if not np.isfinite(cost[i, t]):
            return None
        masks[i], kept[i] = targets[t], True


def quantise(magnitudes) -> Code:
    """The canonical code of a core's weight magnitudes (``(n,)`` A, each > 0 and <= WEIGHT_MAX): the
    procedure of the module's docstring: the best of the codes so made."""
    m = _magnitudes(magnitudes)
    if not len(m):
        return Code(np.zeros(0), np.zeros(0, np.uint8))
    if len(np.unique(m)) < LEVELS:
        exact = decompose(np.unique(m))
        if exact is not None:
            return Code(np.array(exact), nearest(m, exact))
    starts = [uniform_binary(m).bases, kmeans_fit(m).bases]
    found = starts + [_descend(m, _alternate(m, b))[0] for b in starts]
    codes = []
    for b in found:
        b = np.sort(b)             # levels added in ascending order, as the canonical form adds them
        masks = nearest(m, b)
        code = _canonical(b, masks)
        if code is None:
            fixed = _anchored(m, b, masks)
            code = None if fixed is None else _canonical(b, fixed)
        if code is not None:
            codes.append(code)
    distinct = np.unique(realise(m))
    if len(distinct) <= BASES:   # each weight on a current of its own
        codes.append(_canonical(distinct, (1 << np.searchsorted(distinct, realise(m))).astype(np.uint8)))
    codes = [c for c in codes if c is not None]
    if not codes:  # pragma: no cover - decompose finds every anchored code
        raise RuntimeError(f"no canonical code for {len(m)} weight magnitudes")
    return min(codes, key=lambda c: c.mse(m))


# --- the comparison ---------------------------------------------------------------------------

METHODS = ("uniform_binary", "kmeans_fit", "quantise", "kmeans_free")
"""The report's methods: the two alternatives, this module's quantiser, and 15 free levels (k-means, no
subset-sum constraint: the error the constraint costs is the gap to it)."""
KINDS = ("gaussian", "uniform", "sparse")
WEIGHT_SCALE = 2e-9
"""A: the random matrices' scale: Gaussian sigma 2 nA (rockpool's default base weights are 1, 2, 4, 8 nA),
uniform over -8..8 nA, sparse 90 % zeros and the rest Gaussian."""


def random_weights(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A signed random weight matrix (A) of one of :data:`KINDS`."""
    if kind == "gaussian":
        return WEIGHT_SCALE * rng.standard_normal(shape)
    if kind == "uniform":
        return rng.uniform(-4 * WEIGHT_SCALE, 4 * WEIGHT_SCALE, shape)
    if kind == "sparse":
        return WEIGHT_SCALE * rng.standard_normal(shape) * (rng.random(shape) < 0.1)
    raise InvalidValue("kind", f"{kind!r} is not a matrix kind; known: {', '.join(KINDS)}")


@dataclass(frozen=True, eq=False)
class QuantisationReport:
    """The mean squared error of each method on seeded random matrices, one matrix per (kind, size), each
    quantised as one core's weights (the magnitudes; zeros are no connection and count as exact)."""

    seed: int
    kinds: tuple
    sizes: tuple
    """((rows, columns), ...): the matrices' shapes."""
    methods: tuple
    mse: np.ndarray
    """(kinds, sizes, methods) A**2: the mean over every entry of the matrix."""
    mean_square: np.ndarray
    """(kinds, sizes) A**2: the matrices' own mean square, to read ``mse`` against."""

    @property
    def relative(self) -> np.ndarray:
        """(kinds, sizes, methods): ``mse / mean_square``."""
        return self.mse / self.mean_square[..., None]

    def table(self) -> str:
        """The relative errors as a Markdown table (x 1e-4)."""
        head = "| matrix | " + " | ".join(self.methods) + " |"
        rows = [head, "|---|" + "---|" * len(self.methods)]
        for i, kind in enumerate(self.kinds):
            for j, (r, c) in enumerate(self.sizes):
                cells = " | ".join(f"{1e4 * x:.2f}" for x in self.relative[i, j])
                rows.append(f"| {kind} {r}x{c} | {cells} |")
        return "\n".join(rows)


def quantisation_report(seed: int = 0, sizes=((64, 256), (16, 16)), kinds=KINDS) -> QuantisationReport:
    """Each method of :data:`METHODS` on one seeded random matrix per (kind, size) (:func:`random_weights`).
    ``kmeans_free`` is the better of Lloyd's k-means from the quantiles and from :func:`quantise`'s own 15
    levels, so it is never above ``quantise``."""
    rng = np.random.default_rng(seed)
    sizes = tuple((int(r), int(c)) for r, c in sizes)
    mse = np.zeros((len(kinds), len(sizes), len(METHODS)))
    mean_square = np.zeros((len(kinds), len(sizes)))
    for i, kind in enumerate(kinds):
        for j, shape in enumerate(sizes):
            w = random_weights(kind, shape, rng)
            m = np.abs(w[w != 0])
            n = w.size
            ours = quantise(m)
            # Lloyd from this quantiser's own levels too: its steps never raise the error, so never above it.
            free = min(_free_mse(m, kmeans_levels(m)), _free_mse(m, kmeans_levels(m, np.unique(ours.values))))
            sse = [uniform_binary(m).mse(m), kmeans_fit(m).mse(m), ours.mse(m), free]
            mse[i, j] = np.array(sse) * len(m) / n
            mean_square[i, j] = float(np.mean(w ** 2))
    mse.setflags(write=False)
    mean_square.setflags(write=False)
    return QuantisationReport(seed=int(seed), kinds=tuple(kinds), sizes=sizes, methods=METHODS, mse=mse,
                              mean_square=mean_square)
