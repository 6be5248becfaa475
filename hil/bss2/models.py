"""Analytical models of the bss2 chip, and the specification they are judged with.

The MAC model is the linear model the hxtorch stack uses for the backward pass
and its "mock mode", with the residual leak of the membrane added:

    y = clamp(floor(gain * S * x . W + noise), -128, 127)

per 128-row block; blocks are summed digitally and clamped to int8 again.
``S = (1 - l**num_sends) / (1 - l)``, ``l = exp(-events * (wait + 1) * 8 ns / tau_leak)``,
is the effective number of sends: each send of a vector with ``events`` non-zero
inputs lasts ``events * (wait_between_events + 1)`` FPGA cycles, and the charge of
earlier sends decays while later ones arrive (docs/chip_model.md#the-analytical-model).
"""
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from emulator.bss2 import geometry as g
from emulator.bss2.neuron import effective_sends

from ..contract import validation
from ..contract.errors import InvalidValue
from .types import MacConfig, MacStimulus, matmul_operands

NOMINAL_GAIN = 0.0019
"""Output LSB per (activation x weight x send); hxtorch's default is 0.002, and the
seed example (15 x 21 x 100 rows, one send) reads 55..63, mean 58.6, i.e. 0.00186
(docs/chip_model.md#numbers-and-their-sources, row nominal gain)."""
NOMINAL_NOISE = 2.0
"""Temporal noise at the output, LSB: hxtorch's default, 2 LSB
(docs/chip_model.md#numbers-and-their-sources, row temporal noise)."""
NOMINAL_TAU_LEAK = 4e-3
"""Residual leak time constant of the membrane in MAC mode, seconds: a project choice, the
emulator's nominal value; no publication gives one (docs/chip_model.md#numbers-and-their-sources,
row residual leak)."""
DEFAULT_WAIT = 5
"""FPGA cycles between events when a caller gives none: hxtorch's default."""
_ELEMENTS_PER_CHUNK = 4096
"""Outputs per step of :meth:`MacModel.expected_mean` (bounds its (n, 256) temporaries)."""


@dataclass(frozen=True)
class MacModel:
    """The MAC model with its three parameters."""

    gain: float = NOMINAL_GAIN
    """Output LSB per (activation x weight x send), > 0."""
    noise_std: float = NOMINAL_NOISE
    """Standard deviation of the Gaussian output noise, LSB, >= 0."""
    tau_leak: float = NOMINAL_TAU_LEAK
    """Residual leak time constant, seconds, > 0; ``math.inf``: no leak (the ideal chip)."""
    neuron_gain: tuple[float, ...] | None = None
    """A per-chip model's gain of each output (column j of a MAC run: 512 on the chip, fewer on a
    reduced RTL core), LSB per (activation x weight x send), each > 0; None: every output has
    ``gain``. Set by :meth:`fit`."""
    block_rows: int = g.MAC_INPUTS
    """Input rows of one chip run, 1..128: a longer product is computed per block of that many
    rows, each floored and clamped, then summed and clamped, as :func:`hil.bss2.mac` splits it
    on the device (128 on the chip, fewer on a reduced RTL core: ``mac_shape(geometry)[0]``)."""

    def __post_init__(self):
        validation.real("gain", self.gain, lo=1e-9, hi=1.0)
        validation.real("noise_std", self.noise_std, lo=0.0, hi=1000.0)
        if not (isinstance(self.tau_leak, (int, float)) and not isinstance(self.tau_leak, bool)
                and (self.tau_leak == math.inf or 1e-9 <= self.tau_leak <= 1e3)):
            raise InvalidValue("tau_leak", f"{self.tau_leak!r} is outside the allowed range 1e-09..1000 s "
                                           "(or math.inf for no leak)")
        validation.integer("block_rows", self.block_rows, lo=1, hi=g.MAC_INPUTS)
        if self.neuron_gain is not None:
            gains = np.ravel(np.asarray(self.neuron_gain, dtype=object))
            if np.ndim(self.neuron_gain) != 1 or not 1 <= gains.size <= g.MAC_OUTPUTS:
                raise InvalidValue("neuron_gain", f"has shape {np.shape(self.neuron_gain)}; expected (outputs,) "
                                                  f"with 1..{g.MAC_OUTPUTS} outputs")
            object.__setattr__(self, "neuron_gain", tuple(
                validation.real(f"neuron_gain[{i}]", v, lo=1e-9, hi=1.0) for i, v in enumerate(gains)))

    def fit(self, result) -> "MacModel":
        """This model with the parameters a measurement gives (a per-chip model):

        * ``bss2.mac_linearity``: the gain of every output (``neuron_gain``) and their median (``gain``);
        * ``bss2.mac_gain``: the chip gain, and the noise (quantization taken out);
        * ``bss2.mac_noise``: the noise (quantization taken out);
        * ``bss2.mac_sends_and_wait``: the chip gain and the leak time constant (not on an ideal chip).

        Fits chain: ``MacModel().fit(linearity).fit(noise)``.
        """
        name = getattr(result, "experiment", None)
        summary, raw = getattr(result, "summary", {}), getattr(result, "raw", {})

        def noise(rms: float) -> float:
            return float(math.sqrt(max(rms**2 - 1.0 / 12.0, 0.0)))

        if name == "bss2.mac_linearity":
            gains = np.asarray(raw["gain"], np.float64)
            return dataclasses.replace(self, gain=float(np.median(gains)), neuron_gain=tuple(gains))
        if name == "bss2.mac_gain":
            return dataclasses.replace(self, gain=float(summary["gain"]), noise_std=noise(summary["noise_std"]))
        if name == "bss2.mac_noise":
            return dataclasses.replace(self, noise_std=noise(summary["noise_rms"]))
        if name == "bss2.mac_sends_and_wait":
            tau = summary["tau_leak_fit_s"]
            return dataclasses.replace(self, gain=float(summary["gain_fit"]),
                                       tau_leak=self.tau_leak if tau in ("inf", math.inf) else float(tau))
        raise InvalidValue("result", f"a model is fitted from bss2.mac_linearity, mac_gain, mac_noise or "
                                     f"mac_sends_and_wait; not from {name!r}")

    def ideal(self) -> "MacModel":
        """The model of an ideal chip of this gain: no noise, no leak. An ideal chip
        (``ideal=True``) equals its noise-free :meth:`predict` bit for bit."""
        return dataclasses.replace(self, noise_std=0.0, tau_leak=math.inf)

    def expectation(self, x, W=None, num_sends: int = 1, *, wait_between_events: int = DEFAULT_WAIT
                    ) -> np.ndarray:
        """Noiseless, unquantized output ``gain * S * x . W`` per block of ``block_rows`` rows, LSB.

        Takes ``(config, stimulus)`` (a :class:`MacConfig` and a :class:`MacStimulus`) or
        arrays ``(x, W, num_sends, wait_between_events=...)`` as :func:`hil.bss2.mac` does,
        validated the same way. Returns (blocks, batch, cols) float64, before floor and clamp.
        """
        x, W, num_sends, wait = _operands(x, W, num_sends, wait_between_events)
        blocks = []
        step = self.block_rows
        for r0 in range(0, W.shape[0], step):
            xb = x[:, r0:r0 + step]
            acc = xb @ W[r0:r0 + step]
            sends = effective_sends(np.count_nonzero(xb, axis=1), num_sends, wait, self.tau_leak)
            if self.neuron_gain is None:
                # (gain * sends) first: the emulator evaluates the same product in the same
                # order, so the ideal chip (sends == num_sends) matches bit for bit.
                blocks.append((self.gain * sends)[:, None] * acc)
            else:
                if acc.shape[1] != len(self.neuron_gain):
                    raise InvalidValue("W", f"has {acc.shape[1]} columns; a per-chip model (neuron_gain) "
                                            f"predicts its device's {len(self.neuron_gain)} outputs")
                blocks.append(np.outer(sends, self.neuron_gain) * acc)
        return np.stack(blocks)

    def predict(self, x, W=None, num_sends: int = 1, rng: np.random.Generator | None = None, *,
                wait_between_events: int = DEFAULT_WAIT) -> np.ndarray:
        """The model's int output for ``(config, stimulus)`` ((batch, 512)), or for inputs x
        ((rows,) or (batch, rows), 0..31) and weights W ((rows, cols), -63..63).

        Without ``rng`` the noise term is zero (an ideal chip's exact output, with
        :meth:`ideal`); with it, Gaussian noise of ``noise_std`` is added per block.
        """
        one_vector = not isinstance(x, MacConfig) and np.ndim(x) == 1
        y = self.expectation(x, W, num_sends, wait_between_events=wait_between_events)
        if rng is not None and self.noise_std > 0:
            y = y + rng.normal(0.0, self.noise_std, y.shape)
        blocks = np.clip(np.floor(y), g.OUTPUT_MIN, g.OUTPUT_MAX)
        out = np.clip(blocks.sum(axis=0), g.OUTPUT_MIN, g.OUTPUT_MAX).astype(np.int64)
        return out[0] if one_vector else out

    def expected_mean(self, x, W=None, num_sends: int = 1, *, wait_between_events: int = DEFAULT_WAIT
                      ) -> np.ndarray:
        """The mean output of a chip as noisy as the model, LSB (float64, shape as :meth:`predict`).

        ``E[clamp(sum_b clamp(floor(mu_b + N(0, noise_std))))]``, exactly: the floor biases a
        noisy output by about -1/2 LSB, which ``floor(mu)`` misses by up to 1 LSB. Without
        noise it is the noise-free :meth:`predict`.
        """
        one_vector = not isinstance(x, MacConfig) and np.ndim(x) == 1
        mu = self.expectation(x, W, num_sends, wait_between_events=wait_between_events)
        if self.noise_std == 0:
            blocks = np.clip(np.floor(mu), g.OUTPUT_MIN, g.OUTPUT_MAX)
            out = np.clip(blocks.sum(axis=0), g.OUTPUT_MIN, g.OUTPUT_MAX).astype(np.float64)
        else:
            flat = mu.reshape(mu.shape[0], -1)
            out = np.concatenate([self._mean_of(flat[:, i:i + _ELEMENTS_PER_CHUNK])
                                  for i in range(0, flat.shape[1], _ELEMENTS_PER_CHUNK)]).reshape(mu.shape[1:])
        return out[0] if one_vector else out

    def _mean_of(self, mu: np.ndarray) -> np.ndarray:
        """(blocks, n) expectations -> (n,) mean of the clamped sum of clamped, floored, noisy blocks."""
        # scipy only here: importing it costs seconds inside an RTL simulator's Python, which
        # imports this module for the family's types but never takes a noisy mean
        from scipy import signal, special

        levels = np.arange(g.OUTPUT_MIN, g.OUTPUT_MAX + 1, dtype=np.float64)
        # P(block reads k), k = -128..127: floor(mu + e) = k for k <= mu + e < k + 1, with the
        # clamp folding the tails into the end codes.
        upper = special.ndtr((levels[None, None, 1:] - mu[..., None]) / self.noise_std)
        cdf = np.concatenate([upper, np.ones(mu.shape + (1,))], axis=-1)
        pmf = np.diff(cdf, axis=-1, prepend=0.0)                          # (blocks, n, 256)
        total = pmf[0]
        for b in range(1, mu.shape[0]):           # the blocks' noise is independent: convolve
            total = np.clip(signal.fftconvolve(total, pmf[b], axes=-1), 0.0, None)
        values = g.OUTPUT_MIN * mu.shape[0] + np.arange(total.shape[-1], dtype=np.float64)
        return total @ np.clip(values, g.OUTPUT_MIN, g.OUTPUT_MAX)

    def output_variance(self) -> float:
        """Variance of one output around its expectation: noise plus the floor's quantization."""
        return self.noise_std**2 + 1.0 / 12.0


def _operands(x, W, num_sends, wait) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(batch, rows) float64 inputs, (rows, cols) float64 weights, sends and wait, checked
    as the rig's types check them; from a (config, stimulus) pair or from arrays."""
    if isinstance(x, MacConfig) or isinstance(W, MacStimulus):
        if not (isinstance(x, MacConfig) and isinstance(W, MacStimulus)):
            raise InvalidValue("config", "give a MacConfig and a MacStimulus, or the arrays x and W")
        if not (isinstance(num_sends, int) and num_sends == 1 and wait == DEFAULT_WAIT):
            # Nothing silently ignored: the stimulus carries both.
            raise InvalidValue("num_sends", f"{num_sends!r} (wait {wait!r}) given beside a MacStimulus, which "
                                            "carries num_sends and wait_between_events itself; pass rng= by name")
        return (W.inputs.astype(np.float64), x.weights.astype(np.float64), W.num_sends,
                W.wait_between_events)
    if W is None:
        raise InvalidValue("W", "is missing: give (config, stimulus) or (x, W)")
    xs, ws, num_sends, wait = matmul_operands(x, W, num_sends, wait)
    return xs.astype(np.float64), ws.astype(np.float64), num_sends, wait


@dataclass(frozen=True)
class MacSpec:
    """What a healthy chip must meet in MAC mode; each number says where it comes from.

    Each field's public source, or the reasoning for a project choice, is the row
    of its name in docs/chip_model.md#numbers-and-their-sources.

    These are the judged limits of the MAC experiments where the limit is a
    specification rather than a statistical consequence of the model's noise.
    """

    model: MacModel = MacModel()
    gain_tolerance: float = 0.10
    """Allowed relative deviation of the chip gain from the model gain (chip-to-chip
    spread after calibration)."""
    noise_tolerance: float = 0.25
    """Allowed relative deviation of the chip's mean noise from the model noise."""
    noise_max: float = 3.5
    """No neuron may be noisier than this, LSB."""
    neuron_spread_max: float = 0.06
    """Largest allowed relative spread (std / mean) of the neurons' outputs at one input."""
    row_spread_max: float = 0.06
    """Largest allowed relative spread of the rows' (drivers') contributions."""
    linear_range: float = 80.0
    """Output must be linear within +-this many LSB: roughly linear between -80 and +80 in the
    MAC tutorial (docs/chip_model.md#numbers-and-their-sources, row linear range)."""
    distance_slope_max: float = 0.10
    """Largest allowed relative output change from next to the drivers to the far edge."""
    input_inl_max: float = 0.03
    """Largest allowed deviation from linearity over the input sweep, relative to full scale."""
    dead_neurons_max: int = 0
    """A healthy chip has no dead neuron (one that does not integrate)."""
    leak_tolerance: float = 0.35
    """Allowed relative deviation of the chip's leak time constant from the model's."""

    @classmethod
    def from_record(cls, record: dict) -> "MacSpec":
        """The spec (and its model) a run stored with :meth:`record`, back; infinities may be
        written as the string 'inf'. Refuses a record of another class or with unknown fields."""
        try:
            model, spec = dict(record["model"]), dict(record["spec"])
        except (KeyError, TypeError):
            raise InvalidValue("model", f"{record!r} is not a record of a MacSpec and its MacModel") from None
        if model.pop("class", None) != "hil.bss2.MacModel" or spec.pop("class", None) != "hil.bss2.MacSpec":
            raise InvalidValue("model", f"{record!r} is not a record of a MacSpec and its MacModel")
        model = {k: float(v) if isinstance(v, str) else v for k, v in model.items()}
        try:
            return cls(model=MacModel(**model), **spec)
        except TypeError as exc:
            raise InvalidValue("model", f"{record!r} has fields a MacSpec does not: {exc}") from None

    def record(self) -> dict:
        """The model and the spec with all their parameters, as a run stores them:
        ``{'model': {'class': ..., <fields>}, 'spec': {'class': ..., <fields but model>}}``."""
        spec = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        return {"model": {"class": "hil.bss2.MacModel", **dataclasses.asdict(self.model)},
                "spec": {"class": "hil.bss2.MacSpec", **spec}}


DEFAULT_SPEC = MacSpec()


@dataclass(frozen=True)
class CadcRampModel:
    """The CADC as an ideal ramp ADC, read in the CADC ramp mode.

    A neuron at rest on CapMem level l (0..1022) reads
    ``clamp(floor((l - 128) / 3), 0, 255)``: one code per 3 levels, and a full
    ramp overdrives both ends of the 8-bit range (docs/chip_model.md).
    """

    def codes(self, levels) -> np.ndarray:
        """The ideal code of each CapMem level (int64, same shape)."""
        lv = np.asarray(levels, np.int64)
        return np.clip((lv - g.CADC_RAMP_LEVEL_AT_ZERO) // g.CADC_RAMP_LEVELS_PER_CODE, 0, g.CADC_CODES - 1)

    def histogram(self, levels, repeats: int = 1) -> np.ndarray:
        """(256,) hits per code of one channel over ``levels``, each read ``repeats`` times."""
        return np.bincount(self.codes(levels).ravel(), minlength=g.CADC_CODES) * int(repeats)


# -- spiking mode: the LIF neuron (docs/spiking.md#models-and-experiments) -----------------------

FPGA_CYCLE_NS = 8
"""Nanoseconds per FPGA cycle (125 MHz): event, spike and CADC times are whole cycles."""
MADC_CODES_PER_LSB = 4.0
"""Nominal MADC gain, codes per CADC LSB (docs/spiking.md, Readout)."""
SHC_SERIES = 0.1
"""Below this |x|, sinh(x) / x is taken from its series to x^8 / 9! (error < 3e-18, relative)."""
FLOAT32_EPS = 2.0**-24
"""Unit roundoff of float32, the chip's state: every float32 operation errs by at most this, relative."""


def _shc(x: np.ndarray) -> np.ndarray:
    """sinh(x) / x for real x, without the cancellation at 0 (1 at x = 0)."""
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        direct = np.sinh(x) / x
    return np.where(np.abs(x) < SHC_SERIES, _shc_series(x * x), direct)


def _shc_series(x2: np.ndarray) -> np.ndarray:
    """sinh(x) / x from x^2: 1 + x^2/3! + x^4/5! + x^6/7! + x^8/9!."""
    return 1.0 + x2 / 6.0 * (1.0 + x2 / 20.0 * (1.0 + x2 / 42.0 * (1.0 + x2 / 72.0)))


def psp_shape(t, rate_mem, rate_syn) -> np.ndarray:
    """The unit PSP kernel ``(exp(-b t) - exp(-a t)) / (a - b)`` in seconds (a = 1 / tau_mem,
    b = 1 / tau_syn in 1/s; any shapes that broadcast), 0 for t < 0.

    Written as ``t exp(-s t) sinh(d t) / (d t)`` with ``s = (a + b) / 2``, ``d = (a - b) / 2``:
    symmetric in a and b, exact at a == b (``t exp(-a t)``), and free of the cancellation of
    the difference of exponentials near it. Far from it (|d t| >= 0.1) the two exponentials
    are taken apart, each at most 1, so nothing overflows at long times.
    """
    t = np.asarray(t, np.float64)
    a, b = np.asarray(rate_mem, np.float64), np.asarray(rate_syn, np.float64)
    s, d = (a + b) / 2.0, np.abs(a - b) / 2.0
    tp = np.maximum(t, 0.0)
    x = d * tp
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        far = (np.exp(-(s - d) * tp) - np.exp(-(s + d) * tp)) / (2.0 * d)
        near = tp * np.exp(-s * tp) * _shc_series(x * x)
    return np.where(t > 0, np.where(x < SHC_SERIES, near, far), 0.0)


def psp_peak_time(rate_mem, rate_syn) -> np.ndarray:
    """Time to the peak of :func:`psp_shape`, seconds: ``ln(a / b) / (a - b)``, the inverse of the
    logarithmic mean of the two rates; ``1 / a`` at a == b. Written as ``atanh(r) / (r s)``,
    r = (a - b) / (a + b), with its series near r = 0, so it is smooth through a == b."""
    a, b = np.asarray(rate_mem, np.float64), np.asarray(rate_syn, np.float64)
    s = (a + b) / 2.0
    r = np.abs(a - b) / (a + b)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(r < 1e-4, 1.0 + r * r / 3.0, np.arctanh(np.minimum(r, 1.0)) / r)
    return ratio / s


def psp_decay_time(rate_mem, rate_syn, fraction: float = math.exp(-1.0)) -> np.ndarray:
    """Time from the peak of :func:`psp_shape` until it has fallen to ``fraction`` (default 1/e) of
    its peak, seconds; found by bisection to 1e-12 relative (the PSP falls monotonically after
    its peak). About 2.146 tau at a == b = 1 / tau."""
    a, b = np.broadcast_arrays(np.asarray(rate_mem, np.float64), np.asarray(rate_syn, np.float64))
    tp = psp_peak_time(a, b)
    peak = psp_shape(tp, a, b)
    lo = tp.copy()
    hi = tp + (1.0 - math.log(fraction)) * 2.0 / np.minimum(a, b)   # the slower rate bounds the fall
    while True:   # widen where the bracket does not hold the crossing yet (very unequal rates)
        short = psp_shape(hi, a, b) > fraction * peak
        if not short.any():
            break
        hi = np.where(short, 2.0 * hi, hi)
    for _ in range(80):
        mid = (lo + hi) / 2.0
        above = psp_shape(mid, a, b) > fraction * peak
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return (lo + hi) / 2.0 - tp


def cadc_code(v, offset=0) -> np.ndarray:
    """The ideal chip's CADC code of membrane ``v`` (LSB) in spiking mode:
    ``clamp(floor(v) + offset, 0, 255)`` (docs/spiking.md, Readout), int64."""
    return np.clip(np.floor(np.asarray(v, np.float64)).astype(np.int64) + np.asarray(offset, np.int64),
                   0, g.CADC_CODES - 1)


def madc_code(v) -> np.ndarray:
    """The ideal chip's MADC code of membrane ``v`` (LSB): ``clamp(floor(4 v), 0, 1023)``, int64."""
    return np.clip(np.floor(MADC_CODES_PER_LSB * np.asarray(v, np.float64)).astype(np.int64), 0,
                   g.MADC_CODES - 1)


def grid_index(time_ns, step_ns: int) -> np.ndarray:
    """The grid point a reading at ``time_ns`` sees (the last one at or before it): ``floor(t / step)``."""
    return np.asarray(time_ns, np.int64) // int(step_ns)


def event_grid_index(cycles, step_ns: int) -> np.ndarray:
    """The grid point an input event at FPGA cycle ``cycles`` takes effect at (the first one at or
    after ``8 t`` ns): ``ceil(8 t / step)``."""
    return -(-FPGA_CYCLE_NS * np.asarray(cycles, np.int64) // int(step_ns))


@dataclass(frozen=True)
class LifModel:
    """One current-based LIF neuron of the spiking mode (docs/spiking.md, Neurons), without the
    AdEx terms. Potentials and currents in CADC LSB, times in seconds, the refractory time in
    FPGA cycles (digital)::

        tau_mem dV/dt = -(V - leak) + i_const + I_exc,   tau_syn dI_exc/dt = -I_exc

    An input event of weight w through a nominal synapse makes I_exc jump by ``q * w``
    (q = 0.8 LSB: ``emulator.bss2.spiking.Q``). A spike is the first moment V reaches
    ``threshold``; V then stays at ``reset`` for the refractory time.

    Continuous-time results (``psp``, ``rate``, ``spike_times``) are the model's; the ``grid_*``
    methods are the same neuron on the emulator's time grid (events at the first grid point at
    or after them, spikes at the first grid point at or after the crossing, the refractory
    hold ``round(8 * cycles / step_ns)`` steps, FPGA timestamps ``floor(t_ns / 8)``), which
    the ideal chip (``ideal=True``: nominal CapMem curves, no noise) equals up to its float32
    state: a spike can move by one step where the crossing lies within
    :meth:`grid_ambiguity` steps of a grid point, a CADC code by one where V lies within
    :meth:`float32_error` of a code edge.
    """

    leak: float = 80.0
    """Leak (resting) potential, LSB: nominal value of the power-on level 368."""
    reset: float = 80.0
    """Reset potential, LSB (level 368)."""
    threshold: float = 125.0
    """Spike threshold, LSB (level 503)."""
    tau_mem: float = 10e-6
    """Membrane time constant, s (level 200); math.inf: no leak."""
    tau_syn: float = 10e-6
    """Excitatory synaptic time constant, s (level 200)."""
    i_const: float = 0.0
    """Constant input current, LSB (level 0: off)."""
    refractory: int = 250
    """Refractory time, FPGA cycles 0..4095 (250: 2 us)."""
    q: float = 0.8
    """Synaptic current jump per weight unit of a nominal synapse, LSB (``emulator.bss2.spiking.Q``)."""

    def __post_init__(self):
        for name in ("leak", "reset", "threshold", "i_const"):
            validation.real(name, getattr(self, name), lo=-1e4, hi=1e4)
        for name in ("tau_mem", "tau_syn"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and (v == math.inf or 1e-9 <= v <= 1.0)):
                raise InvalidValue(name, f"{v!r} is outside the allowed range 1e-09..1 s (or math.inf)")
        validation.integer("refractory", self.refractory, lo=0, hi=g.REFRACTORY_MAX)
        validation.real("q", self.q, lo=0.0, hi=100.0)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def nominal(cls) -> "LifModel":
        """The power-on neuron on the nominal CapMem curves: leak 80, reset 80, threshold 125 LSB,
        10 us time constants, no constant current, 2 us refractory."""
        return cls.from_levels()

    @classmethod
    def from_levels(cls, leak: int = 368, reset: int = 368, threshold: int = 503, tau_mem: int = 200,
                    tau_syn: int = 200, i_const: int = 0, refractory: int = 250) -> "LifModel":
        """The neuron whose CapMem cells hold these levels (0..1022), on the nominal transfer curves
        (``emulator.bss2.capmem.nominal_value``); ``refractory`` in FPGA cycles."""
        from emulator.bss2 import capmem

        levels = dict(leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem, tau_syn_exc=tau_syn,
                      i_const=i_const)
        for name, level in levels.items():
            validation.integer(name, level, lo=0, hi=g.CAPMEM_LEVEL_MAX)
        v = {name: float(capmem.nominal_value(name, level)) for name, level in levels.items()}
        return cls(leak=v["leak"], reset=v["reset"], threshold=v["threshold"], tau_mem=v["tau_mem"],
                   tau_syn=v["tau_syn_exc"], i_const=v["i_const"], refractory=refractory)

    @classmethod
    def from_config(cls, config, neuron: int) -> "LifModel":
        """The nominal model of ``neuron`` (0..511) of a :class:`hil.bss2.SpikingConfig` (its
        excitatory synaptic time constant; the AdEx terms are not modelled)."""
        neuron = validation.integer("neuron", neuron, lo=0, hi=g.NEURONS - 1)
        return cls.from_levels(leak=int(config.leak[neuron]), reset=int(config.reset[neuron]),
                               threshold=int(config.threshold[neuron]), tau_mem=int(config.tau_mem[neuron]),
                               tau_syn=int(config.tau_syn_exc[neuron]), i_const=int(config.i_const[neuron]),
                               refractory=int(config.refractory[neuron]))

    def record(self) -> dict:
        """Its parameters, as a run stores them (infinities as 'inf')."""
        d = dataclasses.asdict(self)
        return {"class": "hil.bss2.LifModel",
                **{k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in d.items()}}

    # -- sub-threshold -----------------------------------------------------------------------

    @property
    def v_inf(self) -> float:
        """Where the free membrane relaxes to: leak + i_const, LSB."""
        return self.leak + self.i_const

    @property
    def rheobase(self) -> float:
        """The smallest constant current that makes the neuron spike: threshold - leak, LSB
        (with V starting at or below threshold)."""
        return self.threshold - self.leak

    @property
    def refractory_s(self) -> float:
        """The refractory time, seconds."""
        return self.refractory * FPGA_CYCLE_NS * 1e-9

    def jump(self, weight, gain=1.0) -> np.ndarray:
        """The synaptic current jump of an event of ``weight`` (0..63) through a synapse of
        relative ``gain`` (1: nominal), LSB."""
        return self.q * np.asarray(weight, np.float64) * gain

    def free_membrane(self, t, v0) -> np.ndarray:
        """The membrane ``t`` seconds after it was at ``v0`` (LSB) with no input events:
        ``v_inf + (v0 - v_inf) exp(-t / tau_mem)`` (below threshold)."""
        t = np.asarray(t, np.float64)
        return self.v_inf + (np.asarray(v0, np.float64) - self.v_inf) * np.exp(-t / self.tau_mem)

    def psp(self, t, jump) -> np.ndarray:
        """The membrane's excursion (LSB) ``t`` seconds after one input event of current jump
        ``jump`` (LSB; :meth:`jump` of a weight), 0 before it::

            jump * tau_s / (tau_s - tau_m) * (exp(-t / tau_s) - exp(-t / tau_m))

        and ``jump * (t / tau) * exp(-t / tau)`` at tau_m == tau_s, in the stable form of
        :func:`psp_shape`."""
        return np.asarray(jump, np.float64) / self.tau_mem * psp_shape(t, 1.0 / self.tau_mem, 1.0 / self.tau_syn)

    def psp_time_to_peak(self) -> float:
        """Time from the event to the PSP's peak, s: ``tau_m tau_s ln(tau_s / tau_m) / (tau_s - tau_m)``
        (tau at equal time constants)."""
        return float(psp_peak_time(1.0 / self.tau_mem, 1.0 / self.tau_syn))

    def psp_amplitude(self, jump) -> np.ndarray:
        """The PSP's peak excursion, LSB (``jump / e`` at equal time constants)."""
        return self.psp(self.psp_time_to_peak(), jump)

    def psp_decay_time(self) -> float:
        """Time from the PSP's peak until it has fallen to 1/e of it, s (2.146 tau at equal time constants)."""
        return float(psp_decay_time(1.0 / self.tau_mem, 1.0 / self.tau_syn))

    # -- spiking under constant input -----------------------------------------------------------

    def time_to_threshold(self, v0) -> np.ndarray:
        """Time from ``v0`` (LSB) to the threshold under the constant input, s:
        ``tau_mem ln((v_inf - v0) / (v_inf - threshold))``; 0 at or above threshold, inf where
        ``v_inf <= threshold`` (below rheobase)."""
        v0 = np.asarray(v0, np.float64)
        gap = self.v_inf - self.threshold
        with np.errstate(invalid="ignore", divide="ignore"):
            t = self.tau_mem * np.log((self.v_inf - v0) / gap)
        return np.where(v0 >= self.threshold, 0.0, np.where(gap > 0, t, np.inf))

    def rate(self, i_const=None) -> np.ndarray:
        """The f-I curve: the steady firing rate (Hz) under constant current ``i_const`` (LSB, any
        shape; None: the model's), ``1 / (refractory + tau_mem ln((v_inf - reset) / (v_inf - threshold)))``,
        0 at or below rheobase."""
        currents = np.asarray(self.i_const if i_const is None else i_const, np.float64)
        out = np.zeros(currents.shape)
        for idx, c in np.ndenumerate(currents):
            m = dataclasses.replace(self, i_const=float(c))
            isi = self.refractory_s + float(m.time_to_threshold(self.reset))
            out[idx] = 0.0 if not math.isfinite(isi) or m.v_inf <= m.threshold else 1.0 / isi
        return out

    def spike_times(self, duration: float) -> np.ndarray:
        """Spike times (s) in [0, duration) under the constant input, starting at the leak
        potential: the first after ``time_to_threshold(leak)``, then one every
        ``refractory + time_to_threshold(reset)``."""
        first = float(self.time_to_threshold(self.leak))
        if not math.isfinite(first) or first >= duration:
            return np.zeros(0)
        isi = self.refractory_s + float(self.time_to_threshold(self.reset))
        if isi <= 0:
            raise InvalidValue("refractory", "0 with reset at or above threshold: the neuron would fire "
                                             "continuously; the continuous model has no spike train")
        return first + isi * np.arange(int(math.ceil((duration - first) / isi)))

    # -- the same on the emulator's grid ----------------------------------------------------------

    def grid_hold(self, step_ns: int) -> int:
        """Grid steps V is held at reset after a spike: ``round(8 * refractory / step_ns)``."""
        return int(np.rint(FPGA_CYCLE_NS * self.refractory / int(step_ns)))

    def grid_steps_to_threshold(self, v0, step_ns: int) -> np.ndarray:
        """Grid steps from a grid point at ``v0`` to the first one at or above threshold, at least 1
        (the chip checks the threshold after each step); a huge number (2**62) below rheobase."""
        t = self.time_to_threshold(v0) / (int(step_ns) * 1e-9)
        return np.where(np.isfinite(t), np.maximum(np.ceil(t), 1.0), 2.0**62).astype(np.int64)

    def grid_ambiguity(self, step_ns: int) -> float:
        """How far (in steps) a continuous crossing may lie from a grid point and the ideal chip still
        land its spike on the other side of it: the float32 error of V, over the membrane's slope
        at threshold, over the steps of one approach. Zero below rheobase."""
        gap = self.v_inf - self.threshold
        if gap <= 0:
            return 0.0
        h = int(step_ns) * 1e-9
        steps = float(np.max(self.grid_steps_to_threshold(np.array([self.leak, self.reset]), step_ns)))
        slope = gap * -math.expm1(-h / self.tau_mem)              # LSB per step at threshold
        return self.float32_error(steps, step_ns) / slope

    def float32_error(self, steps: float, step_ns: int, scale: float | None = None) -> float:
        """A bound on the ideal chip's float32 error of V after ``steps`` steps of ``step_ns``, LSB.

        Each step rounds about four float32 sums and products of magnitude up to ``scale``
        (default: the model's largest potential plus its constant current), each by at most
        :data:`FLOAT32_EPS` relative. The membrane forgets an error with its time constant and
        the synaptic current carries one for its own, so errors add up over at most
        ``1 + 2 max(tau) / step`` steps, not over the whole trial."""
        if scale is None:
            scale = max(abs(self.leak), abs(self.reset), abs(self.threshold), abs(self.v_inf)) + abs(self.i_const)
        memory = 1.0 + 2.0 * max(self.tau_mem, self.tau_syn) / (int(step_ns) * 1e-9)
        return float(4.0 * FLOAT32_EPS * scale * min(max(steps, 1.0), memory))

    def grid_spike_steps(self, step_ns: int, duration: int) -> np.ndarray:
        """Grid points (int64) of the spikes of a trial of ``duration`` FPGA cycles under the constant
        input, from V at leak: ``n_0 = m_leak``, ``n_k+1 = n_k + hold + m_reset`` (m: steps to
        threshold), those with ``n * step_ns < 8 * duration`` (whose timestamp is in the trial)."""
        step = int(step_ns)
        end = FPGA_CYCLE_NS * int(duration)          # ns; a spike is recorded when n * step < end
        first = int(self.grid_steps_to_threshold(self.leak, step))
        if first * step >= end:
            return np.zeros(0, np.int64)
        period = self.grid_hold(step) + int(self.grid_steps_to_threshold(self.reset, step))
        count = -(-(end - first * step) // (period * step))
        return first + period * np.arange(count, dtype=np.int64)

    def grid_spike_times(self, step_ns: int, duration: int) -> np.ndarray:
        """FPGA timestamps (cycles, int64) of :meth:`grid_spike_steps`: ``floor(n * step_ns / 8)``."""
        return (self.grid_spike_steps(step_ns, duration) * int(step_ns)) // FPGA_CYCLE_NS

    def grid_membrane(self, k, step_ns: int) -> np.ndarray:
        """V (LSB) at grid points ``k`` (int, any shape) of such a trial, as the chip's CADC and MADC
        read it: from leak towards v_inf, at reset from each spike for ``hold`` steps, then
        from reset again."""
        k = np.asarray(k, np.int64)
        h = int(step_ns) * 1e-9
        # Every spike the trial can hold, recorded or not (a sample may follow the last one).
        spikes = self.grid_spike_steps(step_ns, int(np.max(k, initial=0)) * int(step_ns) // FPGA_CYCLE_NS + 1)
        hold = self.grid_hold(step_ns)
        last = np.searchsorted(spikes, k, side="right") - 1              # the latest spike at or before k
        since = np.where(last >= 0, k - np.append(spikes, 0)[np.maximum(last, 0)], 0)
        v_first = self.free_membrane(k * h, self.leak)
        v_after = np.where(since <= hold, self.reset, self.free_membrane(np.maximum(since - hold, 0) * h, self.reset))
        return np.where(last >= 0, v_after, v_first)


@dataclass(frozen=True)
class SpikingSpec:
    """The spreads a healthy chip's spiking mode is judged with (one standard deviation each), and
    the per-limit false-alarm probability. docs/spiking.md states them; the exact draws of the
    virtual chip are ``emulator.bss2.spiking.draw_pattern`` and ``emulator.bss2.fixed_pattern.draw``
    (docs/chip_model.md#fixed-pattern-spreads)."""

    leak_offset: float = 1.0
    """LSB: the leak cell's offset, the CADC ramp mode's CapMem resting-level offset (chip_model.md)."""
    leak_gain: float = 0.01
    """Relative: the leak cell's gain (chip_model.md, CapMem resting level gain)."""
    voltage_offset: float = 2.0
    """LSB: offset of a reset or threshold cell (spiking.md: voltages about 1-3 LSB)."""
    voltage_gain: float = 0.02
    """Relative: gain of a reset or threshold cell (spiking.md: 2 %)."""
    tau_gain: float = 0.08
    """Relative: gain of a time-constant cell's bias, tau = nominal / gain (spiking.md: about 8 %)."""
    current_gain: float = 0.03
    """Relative: gain of the i_const cell (spiking.md: currents 3 %)."""
    adaptation_gain: float = 0.05
    """Relative: gain of the AdEx cells adaptation_a, adaptation_b and exp_slope (``spiking.draw_pattern``:
    5 %); exp_threshold is a potential (voltage_offset, voltage_gain)."""
    input_gain: float = 0.05
    """Relative: a neuron's synaptic input gain (``spiking.draw_pattern``: input_gain_exc / _inh)."""
    synapse_gain: float = 0.04
    """Relative: a synapse's weight-DAC gain (chip_model.md: 4 % per synapse)."""
    driver_gain: float = 0.02
    """Relative: a synapse driver's gain (chip_model.md: 2 %)."""
    sigma_mem: float = 0.5
    """LSB: stationary membrane noise (spiking.md: about 0.5 LSB)."""
    sigma_mem_spread: float = 0.08
    """Relative spread of sigma_mem over neurons (``spiking.draw_pattern``)."""
    sigma_cadc: float = 0.3
    """LSB: CADC read noise in spiking mode (spiking.md: about 0.3 LSB)."""
    cadc_offset: float = 1.5
    """Codes: a CADC channel's offset (chip_model.md: 1.5 codes)."""
    cadc_slope: float = 0.015
    """Relative: a CADC channel's slope (chip_model.md: 1.5 %)."""
    madc_offset: float = 4.0
    """Codes: the MADC's offset (``spiking.draw_pattern``: 4 codes)."""
    madc_gain: float = 0.01
    """Relative: the MADC's gain around 4 codes per LSB (``spiking.draw_pattern``: 1 %)."""
    sigma_madc: float = 0.6
    """Codes: the MADC's sample noise (``spiking.draw_pattern``)."""
    false_alarm: float = 1e-3
    """Probability that a healthy chip fails one judged metric (``hil.statistics.FALSE_ALARM``)."""

    def record(self) -> dict:
        return {"class": "hil.bss2.SpikingSpec", **dataclasses.asdict(self)}

    def potential_sigma(self, nominal: float, kind: str) -> float:
        """One standard deviation (LSB) of a potential cell of ``nominal`` value: its offset and gain
        in quadrature; ``kind`` 'leak' or 'voltage' (reset, threshold)."""
        off, gain = (self.leak_offset, self.leak_gain) if kind == "leak" else (self.voltage_offset, self.voltage_gain)
        return float(math.hypot(off, gain * nominal))


DEFAULT_SPIKING_SPEC = SpikingSpec()


def routed_synapses(config, label: int) -> np.ndarray:
    """(2, 256, 256) bool: the synapses an event of 16-bit ``label`` reaches under a
    :class:`hil.bss2.SpikingConfig` (docs/spiking.md, Events and routing), digitally exact:
    driver (h, d) takes it when ``bus == driver_bus`` and ``((row_select ^ driver_row_select) &
    driver_mask) == 0``; it feeds rows 2d and 2d + 1; a synapse of a row not off responds when
    its label equals the event's 6-bit address. Bits 11-13 are ignored."""
    label = validation.integer("label", label, lo=0, hi=g.LABEL_MAX)
    bus, select, address = label >> 14, (label >> 6) & g.ROW_SELECT_MAX, label & ((1 << g.LABEL_BITS) - 1)
    takes = (config.driver_bus == bus) & (((select ^ config.driver_row_select) & config.driver_mask) == 0)
    rows = np.repeat(takes, 2, axis=1) & (config.row_mode != 0)                  # (2, 256)
    return rows[:, :, None] & (config.labels == address)
