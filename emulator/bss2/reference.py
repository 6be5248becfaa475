"""A straightforward numpy implementation of the MAC model of the C core.

The same pipeline as the C core's ``emulator/_native/bss2/mac.c`` (see ``bss2/mac.h``
for the model), written for clarity rather than speed: the driver lookup by fancy
indexing, the matrix product by ``np.matmul``, the counter-based noise by
SplitMix64 in uint64 arithmetic, the normal deviates by the same piecewise
polynomials (fitted to ``scipy.special.ndtri``), the readout in float32 with the
same operations in the same order.

It reproduces the C results except for rare 1-LSB differences where a value
lands on a floor boundary: ``np.matmul`` (BLAS) sums the 128 products in another
order than the C core, so ``acc`` may differ in its last float32 bits. The ideal
chip's path is exact in both (integer ``acc``), so there they agree bit for bit.

>>> chip = VirtualChip("EMU-0001"); chip.configure_mac(weights)
>>> expected = reference.run_mac(chip, inputs, run=chip.run_counter)
>>> got = chip.run_mac(inputs)        # the same run
"""
import numpy as np
from scipy.special import ndtri

from . import cadc, geometry as g, neuron
from ..errors import InvalidInput

STREAM_MAC_READOUT = 0
"""Stream index of the MAC readout noise (``bss2_stream_key(seed, run, stream)``)."""

COUNTER_NEURONS = 512
"""The noise of (sample, neuron) is the 64-bit draw at counter sample * 512 + neuron:
its high half feeds the membrane read, its low half the baseline read."""

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15

# Piecewise polynomials of the inverse normal CDF: c_k[o], k = 0..4, segment o = 0..31
# (see normal_from_bits). Generated once by a least-squares fit of
# ndtri(m * 2**-(o + 2)) on 4096 Chebyshev nodes of y = m - 1.5 in [-0.5, 0.5],
# rounded to float32; emulator/_native/rng.c holds the same numbers.
_COEFFICIENTS_HEX = (
    ("-0x1.464a46p-2", "-0x1.c6387ep-1", "-0x1.51695cp+0", "-0x1.ad0a92p+0",
     "-0x1.fcc83ep+0", "-0x1.2213ccp+1", "-0x1.429fe4p+1", "-0x1.60b5e6p+1",
     "-0x1.7ccd8cp+1", "-0x1.973d6ap+1", "-0x1.b04662p+1", "-0x1.c81a88p+1",
     "-0x1.dee16cp+1", "-0x1.f4bafp+1", "-0x1.04e098p+2", "-0x1.0f04f4p+2",
     "-0x1.18d3acp+2", "-0x1.225488p+2", "-0x1.2b8e34p+2", "-0x1.348678p+2",
     "-0x1.3d426p+2", "-0x1.45c65ep+2", "-0x1.4e165cp+2", "-0x1.5635d6p+2",
     "-0x1.5e27eep+2", "-0x1.65ef6ep+2", "-0x1.6d8edep+2", "-0x1.750888p+2",
     "-0x1.7c5e82p+2", "-0x1.8392bp+2", "-0x1.8aa6cep+2", "-0x1.919c74p+2"),
    ("0x1.516b68p-1", "0x1.db526p-2", "0x1.7e2874p-2", "0x1.468172p-2",
     "0x1.20d27ap-2", "0x1.0547bap-2", "0x1.e02c2ap-3", "0x1.be525cp-3",
     "0x1.a2857cp-3", "0x1.8b2f88p-3", "0x1.77404p-3", "0x1.65f99ap-3",
     "0x1.56d28cp-3", "0x1.496582p-3", "0x1.3d6572p-3", "0x1.3296c6p-3",
     "0x1.28ca9ap-3", "0x1.1fdb74p-3", "0x1.17ab02p-3", "0x1.10206ep-3",
     "0x1.092724p-3", "0x1.02adf8p-3", "0x1.f94cdcp-4", "0x1.ee087p-4",
     "0x1.e3799ep-4", "0x1.d98e46p-4", "0x1.d036b2p-4", "0x1.c76536p-4",
     "0x1.bf0dd4p-4", "0x1.b72602p-4", "0x1.afa47p-4", "0x1.a880d8p-4"),
    ("-0x1.1aaf52p-4", "-0x1.86ed9ep-4", "-0x1.7784cp-4", "-0x1.5c9502p-4",
     "-0x1.4378f8p-4", "-0x1.2ddd78p-4", "-0x1.1b7b6cp-4", "-0x1.0bc3cp-4",
     "-0x1.fc6728p-5", "-0x1.e4c2dep-5", "-0x1.cff5e2p-5", "-0x1.bd800cp-5",
     "-0x1.acfd22p-5", "-0x1.9e1df6p-5", "-0x1.90a35ap-5", "-0x1.845a4cp-5",
     "-0x1.79193ep-5", "-0x1.6ebdf8p-5", "-0x1.652c0ep-5", "-0x1.5c4baep-5",
     "-0x1.5408bep-5", "-0x1.4c5224p-5", "-0x1.45193cp-5", "-0x1.3e516ap-5",
     "-0x1.37efcp-5", "-0x1.31eabap-5", "-0x1.2c3a02p-5", "-0x1.26d644p-5",
     "-0x1.21b904p-5", "-0x1.1cdc86p-5", "-0x1.183bacp-5", "-0x1.13d1e4p-5"),
    ("0x1.f8fc9ap-5", "0x1.7d1a52p-5", "0x1.58e8cap-5", "0x1.3e6868p-5",
     "0x1.289864p-5", "0x1.163fep-5", "0x1.06a04cp-5", "0x1.f256dcp-6",
     "0x1.dae966p-6", "0x1.c651a8p-6", "0x1.b40ef8p-6", "0x1.a3bcfcp-6",
     "0x1.950c8cp-6", "0x1.87be8ap-6", "0x1.7ba012p-6", "0x1.7087acp-6",
     "0x1.66533cp-6", "0x1.5ce66cp-6", "0x1.542988p-6", "0x1.4c088cp-6",
     "0x1.447276p-6", "0x1.3d58b6p-6", "0x1.36aec6p-6", "0x1.3069cap-6",
     "0x1.2a805p-6", "0x1.24ea12p-6", "0x1.1f9fccp-6", "0x1.1a9b14p-6",
     "0x1.15d638p-6", "0x1.114c26p-6", "0x1.0cf85ap-6", "0x1.08d6c4p-6"),
    ("-0x1.6094bcp-6", "-0x1.7099fp-6", "-0x1.544f12p-6", "-0x1.3be6f8p-6",
     "-0x1.276846p-6", "-0x1.160abep-6", "-0x1.0729acp-6", "-0x1.f48c12p-7",
     "-0x1.ddfd08p-7", "-0x1.ca1088p-7", "-0x1.b8525ap-7", "-0x1.a86752p-7",
     "-0x1.9a0718p-7", "-0x1.8cf7a2p-7", "-0x1.8109dcp-7", "-0x1.761736p-7",
     "-0x1.6bffdp-7", "-0x1.62a91p-7", "-0x1.59fc96p-7", "-0x1.51e774p-7",
     "-0x1.4a597ep-7", "-0x1.4344d2p-7", "-0x1.3c9d76p-7", "-0x1.3658fep-7",
     "-0x1.306e56p-7", "-0x1.2ad586p-7", "-0x1.258784p-7", "-0x1.207e1ap-7",
     "-0x1.1bb3c2p-7", "-0x1.17239p-7", "-0x1.12c91cp-7", "-0x1.0ea06ep-7"),)
NORMAL_COEFFICIENTS = np.array([[float.fromhex(c) for c in row] for row in _COEFFICIENTS_HEX],
                               dtype=np.float32)
"""(5, 32) float32: c_k of segment o at [k, o]."""
NORMAL_COEFFICIENTS.setflags(write=False)


def normal_fit(segment: int, degree: int = 4, nodes: int = 4096) -> np.ndarray:
    """The float64 least-squares fit NORMAL_COEFFICIENTS[:, segment] was rounded from."""
    y = 0.5 * np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)
    f = ndtri((y + 1.5) * 2.0 ** -(segment + 2))
    return np.linalg.lstsq(np.vander(y, degree + 1, increasing=True), f, rcond=None)[0]


# -- the counter-based generator --------------------------------------------------------

def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def stream_key(chip_seed: int, run: int, stream: int = STREAM_MAC_READOUT) -> int:
    """64-bit key of one noise stream of one run of one chip."""
    inner = _mix64((run + _GOLDEN) & _M64)
    return _mix64((_mix64(chip_seed ^ inner) + stream * _GOLDEN) & _M64)


def _mix64_array(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer on uint64 arrays (mod 2^64)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def counter_bits(key: int, counters) -> np.ndarray:
    """The 64-bit draws at the counters: SplitMix64's mix64(key + c * golden), uint64."""
    c = np.asarray(counters, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic mod 2^64 is meant
        return _mix64_array(np.uint64(key) + c * np.uint64(_GOLDEN))


def uniform_bits(key: int, words) -> np.ndarray:
    """The 32-bit words of stream ``key``: word w is the high (w even) or low (w odd)
    half of the draw at counter w // 2 (so the membrane draw of counter c is word
    2c, the baseline draw word 2c + 1)."""
    w = np.asarray(words, dtype=np.uint64)
    bits = counter_bits(key, w >> np.uint64(1))
    high = (bits >> np.uint64(32)).astype(np.uint32)
    low = (bits & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return np.where((w & np.uint64(1)) == 0, high, low)


def normal_from_bits(u) -> np.ndarray:
    """Standard normal deviates (float32) from 32 uniform bits each, by inversion.

    Fold u to t < 2^31 (the top bit is the sign), p = (2t + 1) / 2^33; the segment
    o = clz(2t + 1) is the binary octave of p; m in [1, 2) are the top 24 bits of
    (2t + 1) << o; the deviate is the segment's polynomial in y = m - 1.5 (float32,
    Horner), negated for the upper half.
    """
    u = np.asarray(u, dtype=np.uint32)
    upper = (u >> np.uint32(31)) == 1
    t = np.where(upper, ~u, u)
    tp = (t << np.uint32(1)) | np.uint32(1)
    _, e = np.frexp(tp.astype(np.float64))          # tp = f * 2**e, f in [0.5, 1)
    o = (32 - e).astype(np.int64)                   # count of leading zeros
    z = (tp.astype(np.uint64) << o.astype(np.uint64)) & np.uint64(0xFFFFFFFF)
    m = (((z >> np.uint64(8)) & np.uint64(0x7FFFFF)) | np.uint64(0x3F800000)).astype(np.uint32)
    y = m.view(np.float32) - np.float32(1.5)
    c = NORMAL_COEFFICIENTS
    q = c[4][o]
    for k in (3, 2, 1, 0):
        q = q * y
        q = q + c[k][o]
    return np.where(upper, -q, q)


def normals(key: int, words) -> np.ndarray:
    """The float32 standard normal deviates of stream ``key`` at the 32-bit ``words``."""
    return normal_from_bits(uniform_bits(key, words))


# -- the MAC run ----------------------------------------------------------------------------

def readout_parameters(chip) -> dict:
    """The chip's per-neuron readout parameters as the C core uses them (float32 / int32)."""
    p, f = chip.pattern, chip.faults
    sigma_read = p.sigma_read.astype(np.float64)
    for n, extra in f.noisy_neurons:
        sigma_read[n] = np.hypot(sigma_read[n], extra)
    whole, frac = cadc.baseline_code_split(p)
    live = np.ones(g.NEURONS, np.float32)
    live[list(f.dead_neurons)] = 0.0
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    return dict(
        live=live, knee_pos=f32(p.knee_pos), knee_neg=f32(p.knee_neg), rail_pos=f32(p.rail_pos),
        rail_neg=f32(p.rail_neg), sigma_read=f32(sigma_read), sigma_base=f32(p.sigma_base),
        adc_frac=f32(frac), cadc_slope=f32(p.cadc_slope), adc_int=whole.astype(np.int64),
        code_map=cadc.code_map(f.missing_codes).astype(np.int64), compress=not chip.ideal)


def run_mac(chip, inputs: np.ndarray, num_sends: int = 1, wait_between_events: int = 5, *,
            run: int | None = None, sample0: int = 0) -> np.ndarray:
    """What ``chip.run_mac(inputs, num_sends, wait_between_events)`` returns as its run ``run``.

    ``run`` defaults to the chip's next run (``chip.run_counter``); the chip is not
    changed. ``sample0`` is the index of ``inputs[0]`` within the run. The chip must
    have a MAC configuration (its effective weights and pulse tables are used).
    """
    if not chip.configured:
        raise InvalidInput("configuration", "the chip has no MAC configuration; call configure_mac first")
    x = np.asarray(inputs)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != g.MAC_INPUTS:
        raise InvalidInput("inputs", f"expected a (batch, {g.MAC_INPUTS}) uint8 array")
    if (x > g.ACTIVATION_MAX).any():
        b, i = np.argwhere(x > g.ACTIVATION_MAX)[0]
        raise InvalidInput(f"inputs[{b}, {i}]", f"{int(x[b, i])} is outside the allowed range "
                           f"0..{g.ACTIVATION_MAX}")
    run = chip.run_counter if run is None else run
    batch = x.shape[0]
    prm = readout_parameters(chip)

    # Drivers, events, scale.
    n_events = np.count_nonzero(x, axis=1)
    sends = neuron.effective_sends(n_events, num_sends, wait_between_events, chip.pattern.tau_leak)
    scale = chip.pattern.gain * sends                                   # (batch,) float64
    rows = np.arange(g.MAC_INPUTS)
    acc = np.concatenate([np.matmul(chip._pulses[h][rows, x], chip._weights[h])  # float32
                          for h in range(g.HEMISPHERES)], axis=1)      # (batch, 512)

    noisy = prm["compress"] or (prm["sigma_read"] != 0).any() or (prm["sigma_base"] != 0).any()
    cmap, ai = prm["code_map"], prm["adc_int"]
    fr, sl = prm["adc_frac"], prm["cadc_slope"]
    if not noisy:
        # The exact path (ideal chip): double precision, floor((gain * num_sends) * acc).
        v = (acc.astype(np.float64) * scale[:, None]) * prm["live"].astype(np.float64)
        xm = fr.astype(np.float64) + sl.astype(np.float64) * v
        code = cmap[np.clip(ai + np.floor(xm).astype(np.int64), 0, 255)]
        base = cmap[np.clip(ai + np.floor(fr.astype(np.float64)).astype(np.int64), 0, 255)]
        return np.clip(code - base, g.OUTPUT_MIN, g.OUTPUT_MAX).astype(np.int8)

    # Membrane excursion and compression (float32; the tanh in float64).
    v = (acc * scale.astype(np.float32)[:, None]) * prm["live"]
    if prm["compress"]:
        kp, kn = np.broadcast_to(prm["knee_pos"], v.shape), np.broadcast_to(prm["knee_neg"], v.shape)
        rp, rn = np.broadcast_to(prm["rail_pos"], v.shape), np.broadcast_to(prm["rail_neg"], v.shape)
        beyond = (v > kp) | (v < kn)
        if beyond.any():
            v = v.copy()
            v[beyond] = neuron.compress(v[beyond].astype(np.float64), kp[beyond].astype(np.float64),
                                        kn[beyond].astype(np.float64), rp[beyond].astype(np.float64),
                                        rn[beyond].astype(np.float64)).astype(np.float32)

    # Temporal noise: one 64-bit draw per (sample, neuron), high half for the
    # membrane read, low half for the baseline read.
    key = stream_key(chip.seed, run, STREAM_MAC_READOUT)
    counters = ((sample0 + np.arange(batch, dtype=np.uint64))[:, None] * np.uint64(COUNTER_NEURONS)
                + np.arange(g.NEURONS, dtype=np.uint64)[None, :])
    bits = counter_bits(key, counters)
    n1 = normal_from_bits((bits >> np.uint64(32)).astype(np.uint32))
    n2 = normal_from_bits((bits & np.uint64(0xFFFFFFFF)).astype(np.uint32))

    # CADC reads of the membrane and of the baseline.
    xm = fr + sl * (v + prm["sigma_read"] * n1)
    xb = fr + sl * (prm["sigma_base"] * n2)
    code = cmap[np.clip(ai + np.floor(xm).astype(np.int64), 0, 255)]
    base = cmap[np.clip(ai + np.floor(xb).astype(np.int64), 0, 255)]
    return np.clip(code - base, g.OUTPUT_MIN, g.OUTPUT_MAX).astype(np.int8)
