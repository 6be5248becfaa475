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
