"""The forward pass's experiments (docs/crossbar.md#experiments):

* ``crossbar.forward_transfer``: the noise-free forward through the DACs and ADCs, its saturation and the
  iterative bound management, every output against the model exactly (:func:`hil.crossbar.models.forward`);
* ``crossbar.forward_noise``: the outputs' means and variances under the stated noises against their exact
  distribution over the ADC's levels (:func:`hil.crossbar.models.output_moments`).
"""
import numpy as np
from scipy import stats

from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric
from ...contract.statistics import FALSE_ALARM
from .. import models
from ..configs import IOConfig, RPUConfig
from ..types import Config, Stimulus, WeightRead

QUIET = {"out_noise": 0.0, "inp_noise": 0.0, "w_noise": 0.0}
EXACT = "exact: without noise the tile's forward is deterministic; the model computes the same float32 operations"
EXACT_IDEAL = "exact: a perfect tile's product is the model's"


def held_weights(backend, config: Config) -> np.ndarray:
    """The weights the tile's devices hold after ``config`` (a device holds at most its own bounds): read
    back where the device has the ``readback`` mode, else the weights asked for."""
    if "readback" in backend.info().modes:
        return backend.run(WeightRead()).weights
    return config.weights


def _shape(backend) -> tuple[int, int]:
    g = backend.info().geometry
    return int(g["rows"]), int(g["columns"])


@experiment("crossbar.forward_transfer", mode="forward",
            metrics=("mismatched_outputs", "saturated_without_bm", "saturated_with_bm", "bm_rounds_max",
                     "dac_levels"),
            params={"seed": (0, 2**31 - 1), "vectors": (8, 4096), "sweep": (16, 4096)})
def forward_transfer(backend, *, seed: int = 0, vectors: int = 256, sweep: int = 1001,
                     progress: bool = False) -> ExperimentResult:
    """The noise-free forward pass against :func:`hil.crossbar.models.forward`, output for output:

    * the DAC's transfer: every input equal to ``a``, ``a`` swept over [-1.25, 1.25] in ``sweep`` steps,
      without noise or bound management (each DAC code ``rint(a N / b)`` clipped to -N..N, so the sweep
      shows ``dac_levels`` distinct input levels: 2N + 1 on a tile that quantises, N = 63 by default);
    * ``vectors`` random inputs (normal, seeded) through the default periphery (abs-max noise management,
      iterative bound management);
    * ``vectors`` positive inputs U(0.5, 1) through positive weights whose products reach about twice the
      ADC's bound (on a tile of 64 or more columns), without and with the bound management
      (``saturated_without_bm`` / ``saturated_with_bm``: the fraction of vectors with an output at the ADC's
      end code; the model predicts both exactly).

    Otherwise random weights U(-0.4, 0.4) (seeded); the model gets the weights the devices hold. On a perfect tile the
    model is the exact product. Any output differing from the model counts in ``mismatched_outputs``."""
    rows, cols = _shape(backend)
    ideal = bool(backend.info().ideal)
    rng = np.random.default_rng(seed)
    quiet = IOConfig(**QUIET)
    parts = {
        "sweep": (quiet.replace(noise_management="none", bound_management="none"),
                  np.repeat(np.linspace(-1.25, 1.25, sweep)[:, None], cols, axis=1)),
        "random": (quiet, rng.normal(0, 1, (vectors, cols))),
        "no_bm": (quiet.replace(bound_management="none"), rng.uniform(0.5, 1.0, (vectors, cols))),
    }
    parts["bm"] = (quiet, parts["no_bm"][1])
    weights = rng.uniform(-0.4, 0.4, (rows, cols)).astype(np.float32)
    # Positive weights whose products reach about twice the ADC's bound (where the tile is wide enough).
    level = min(2 * quiet.out_bound / (0.75 * cols), 0.4)
    saturating = rng.uniform(0.5 * level, 1.5 * level, (rows, cols)).astype(np.float32)
    raw, prediction, mismatched, summary = {}, {}, 0, {}
    for name, (io, x) in parts.items():
        x = x.astype(np.float32)
        parts[name] = (io, x)
        config = Config(saturating if name in ("no_bm", "bm") else weights, RPUConfig(forward=io))
        backend.configure(config)
        w = held_weights(backend, config)
        out = backend.run(Stimulus.forward(x))
        model = models.forward(w, x, io, perfect=ideal)
        raw[f"{name}_outputs"], raw[f"{name}_rounds"] = out.outputs, out.rounds
        prediction[f"{name}_outputs"], prediction[f"{name}_rounds"] = model.outputs, model.rounds
        bad = int(np.sum(out.outputs != model.outputs)) + int(np.sum(out.rounds != model.rounds))
        mismatched += bad
        if progress:
            print(f"  {name}: {bad} outputs off the model", flush=True)
    levels = len(np.unique(raw["sweep_outputs"], axis=0))
    levels_model = len(np.unique(prediction["sweep_outputs"], axis=0))
    sat = {k: float(_at_bound(raw[f"{k}_outputs"], raw[f"{k}_rounds"], parts[k], ideal).mean()) for k in ("no_bm", "bm")}
    model_sat = {k: float(_at_bound(prediction[f"{k}_outputs"], prediction[f"{k}_rounds"], parts[k], ideal).mean())
                 for k in ("no_bm", "bm")}
    metrics = (
        Metric("mismatched_outputs", mismatched, limit=0, source="model: hil.crossbar.models.forward (exact)",
               unit="outputs", detail=f"outputs and rounds differing from the model over {sum(len(x) for _, x in parts.values())} "
                                      "vectors (sweep, random, saturating without and with bound management)",
               no_interval=EXACT_IDEAL if ideal else EXACT),
        Metric("saturated_without_bm", sat["no_bm"], unit="fraction",
               detail=f"positive vectors with an output at the ADC's end code, without bound management; the model's "
                      f"{model_sat['no_bm']:.4g}", no_interval="exact: deterministic, and predicted exactly"),
        Metric("saturated_with_bm", sat["bm"], unit="fraction",
               detail=f"the same vectors with the iterative bound management; the model's {model_sat['bm']:.4g}",
               no_interval="exact: deterministic, and predicted exactly"),
        Metric("bm_rounds_max", int(raw["bm_rounds"].max()), unit="rounds",
               detail=f"the most halvings of an input the bound management needed; the model's "
                      f"{int(prediction['bm_rounds'].max())}", no_interval="exact: deterministic"),
        Metric("dac_levels", levels, unit="levels",
               detail=f"distinct output vectors of the DAC sweep (one per DAC level); the model's {levels_model}",
               no_interval="exact: deterministic"),
    )
    return ExperimentResult(
        experiment="crossbar.forward_transfer", params={"seed": seed, "vectors": vectors, "sweep": sweep},
        raw=raw, prediction=prediction, metrics=metrics, summary=summary,
        stimulus={"weights": weights, "saturating_weights": saturating, "sweep": parts["sweep"][1][:, 0]},
        model={"model": {"class": "hil.crossbar.models.forward", "ideal_rel": 0.0,
                         "formula": "f_ADC(W f_DAC(x / alpha)) alpha, halving x while the ADC saturates"}})


def _at_bound(outputs: np.ndarray, rounds: np.ndarray, part: tuple, ideal: bool) -> np.ndarray:
    """Vectors with an output at the ADC's end code: ``|y| = (N step) alpha 2^rounds`` (float32, as the tile
    scales it); none on a perfect tile, which has no ADC."""
    io, x = part
    if ideal or io.is_perfect or not io.out_levels:
        return np.zeros(len(outputs), bool)
    _, alpha = models.nm_scale(x, io)
    s = np.where(alpha > 0, np.float32(1.0) / np.where(alpha > 0, alpha, np.float32(1)), np.float32(1.0)).astype(np.float32)
    if io.bound_management == "iterative":
        s = (s / (2.0 ** rounds.astype(np.float32))).astype(np.float32)
    end = np.float32(io.out_levels) * np.float32(io.out_step) * (np.float32(io.out_scale) / s).astype(np.float32)
    return (np.abs(outputs) >= end[:, None]).any(axis=1)


@experiment("crossbar.forward_noise", mode="forward",
            metrics=("mean_off_model", "variance_off_model", "rounds_nonzero", "output_std"),
            params={"seed": (0, 2**31 - 1), "vectors": (1, 64), "repeats": (32, 8192)})
def forward_noise(backend, *, seed: int = 0, vectors: int = 8, repeats: int = 512,
                  progress: bool = False) -> ExperimentResult:
    """Each output's mean and variance over ``repeats`` noisy forward passes of ``vectors`` inputs against
    their exact distribution (:func:`hil.crossbar.models.output_moments`), for three noises: the default
    output noise (0.06), with weight noise 0.02, and with input noise 0.01.

    Weights U(-0.3, 0.3) and inputs U(-1, 1) (seeded) keep every output far from the ADC's bound (the model
    is of the bound management's first round; ``rounds_nonzero`` counts vectors that needed another). A
    mean is off the model beyond ``z sqrt(var / repeats)``, a variance beyond ``z`` times its sampling
    error ``sqrt((mu4 - var^2 (R - 3) / (R - 1)) / R)`` (mu4 the exact fourth central moment), z two-sided
    with Bonferroni over every output tested at the false alarm 1e-3. On a perfect tile every repeat is the
    exact product: mean exact, variance 0."""
    rows, cols = _shape(backend)
    ideal = bool(backend.info().ideal)
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-0.3, 0.3, (rows, cols)).astype(np.float32)
    x = rng.uniform(-1, 1, (vectors, cols)).astype(np.float32)
    cases = {"out_noise": IOConfig(), "w_noise": IOConfig(w_noise=0.02), "inp_noise": IOConfig(inp_noise=0.01)}
    n_tests = 2 * len(cases) * vectors * rows
    z = float(stats.norm.isf(FALSE_ALARM / (2 * n_tests)))
    raw, prediction = {}, {}
    off_mean = off_var = nonzero = 0
    stds = []
    for name, io in cases.items():
        config = Config(weights, RPUConfig(forward=io))
        backend.configure(config)
        w = held_weights(backend, config)
        out = backend.run(Stimulus.forward(np.repeat(x, repeats, axis=0)))
        y = out.outputs.astype(np.float64).reshape(vectors, repeats, rows)
        nonzero += int(np.count_nonzero(out.rounds))
        mean, var = y.mean(axis=1), y.var(axis=1, ddof=1)
        if ideal:
            exact = models.forward(w, x, io, perfect=True).outputs.astype(np.float64)
            off_mean += int(np.sum(mean != exact))
            off_var += int(np.sum(var != 0))
            prediction[f"{name}_mean"], prediction[f"{name}_variance"] = exact, np.zeros_like(exact)
        else:
            mo = models.output_moments(w, x, io)
            se_mean = np.sqrt(mo.variance / repeats)
            se_var = np.sqrt(np.maximum(mo.fourth - mo.variance ** 2 * (repeats - 3) / (repeats - 1), 0) / repeats)
            off_mean += int(np.sum(np.abs(mean - mo.mean) > z * se_mean))
            off_var += int(np.sum(np.abs(var - mo.variance) > z * se_var))
            prediction[f"{name}_mean"], prediction[f"{name}_variance"] = mo.mean, mo.variance
        raw[f"{name}_mean"], raw[f"{name}_variance"] = mean, var
        stds.append(float(np.median(np.sqrt(var))))
        if progress:
            print(f"  {name}: median std {stds[-1]:.4g}", flush=True)
    source = "exact: a perfect tile has no noise" if ideal else \
        f"model: exact output distribution; z = {z:.2f} (Bonferroni over {n_tests} at {FALSE_ALARM:g})"
    model_std = float(np.median(np.sqrt(prediction["out_noise_variance"])))
    metrics = (
        Metric("mean_off_model", off_mean, limit=0, source=source, unit="outputs",
               detail=f"(vector, output) means off the model, of {len(cases) * vectors * rows}",
               no_interval="exact: a count of the tested outputs themselves"),
        Metric("variance_off_model", off_var, limit=0, source=source, unit="outputs",
               detail=f"(vector, output) variances off the model, of {len(cases) * vectors * rows}",
               no_interval="exact: a count of the tested outputs themselves"),
        Metric("rounds_nonzero", nonzero, limit=0, source="the model is of the bound management's first round",
               unit="vectors", detail="vectors whose ADC saturated (the inputs are chosen far from its bound)",
               no_interval="exact: a count of the vectors themselves"),
        Metric("output_std", stds[0], unit="output units",
               detail=f"median standard deviation with the default output noise; the model's {model_std:.5g}",
               no_interval="undefined: a median over outputs of different distributions"),
    )
    return ExperimentResult(
        experiment="crossbar.forward_noise", params={"seed": seed, "vectors": vectors, "repeats": repeats},
        raw=raw, prediction=prediction, metrics=metrics, stimulus={"weights": weights, "inputs": x},
        summary={"z": z}, model={"model": {"class": "hil.crossbar.models.output_moments", "ideal_rel": 0.0,
                                           "formula": "normal before the ADC, exact probabilities of its levels"}})
