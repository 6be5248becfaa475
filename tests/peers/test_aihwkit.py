"""The crossbar tile against IBM's aihwkit (docs/crossbar.md#agreement-with-aihwkit).

Tests marked ``peers`` need aihwkit 1.2.0 (built from its source: ``tox -e peers``) and skip, saying so,
without it. The same tiles run on aihwkit's CPU tile and on this rig's emulator:

* noise off, on the grid of :data:`GRID` (sizes x converter resolutions x ADC bounds x noise
  management x bound management): every output within one output quantisation step (the ADC's step times
  the vector's output scale; without quantisation, float32 rounding);
* noise on (the output noise, weight noise, input noise): each output's mean and variance over repeated
  passes agree within their sampling error (two-sample z, Bonferroni);
* the pulsed update: the mean step per pulse down and up, its device-to-device spread and the
  cycle-to-cycle spread of the increments with trains that always fire, and the mean coincidences of
  stochastic trains (each tile against its own devices), agree within their sampling error.

aihwkit 1.2 cannot seed its simulator's noise from Python (its generators are seeded from the clock), so
its draws differ between runs: the statistical tests use a false alarm of 1e-6 so that they cannot fail
by chance in practice; ours are seeded.
"""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

import hil
from hil.crossbar import DeviceConfig, IOConfig, RPUConfig, UpdateConfig, models
from hil.crossbar.types import Config, Stimulus, WeightRead

try:
    import torch
    from aihwkit.simulator.configs import InferenceRPUConfig, SingleRPUConfig
    from aihwkit.simulator.configs.devices import ConstantStepDevice
    from aihwkit.simulator.parameters import IOParameters, UpdateParameters
    from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType, WeightNoiseType
except ImportError:
    HAVE_AIHWKIT = False
else:
    HAVE_AIHWKIT = True

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not HAVE_AIHWKIT, reason="needs aihwkit 1.2.0, which is not installed here "
                                                          "(the 'peers' extra: tox -e peers)")]

ALPHA = 1e-6
SIZES = [(16, 8), (100, 60), (512, 128)]
RESOLUTIONS = [(1 / 126, 1 / 510), (1 / 254, 1 / 1022), (0.0, 0.0)]
OUT_BOUNDS = [12.0, 2.0]
NOISE_MANAGEMENT = ["none", "abs_max", "max"]
BOUND_MANAGEMENT = ["none", "iterative"]
GRID = list(itertools.product(SIZES, RESOLUTIONS, OUT_BOUNDS, NOISE_MANAGEMENT, BOUND_MANAGEMENT))
"""(shape (rows, columns), (inp_res, out_res), out_bound, noise management, bound management): 108 tiles."""


def io_parameters(io: IOConfig) -> "IOParameters":
    """aihwkit's IOParameters of one of our IOConfigs (same names, same meaning)."""
    p = IOParameters()
    for name in ("is_perfect", "inp_bound", "inp_res", "inp_noise", "inp_sto_round", "out_bound", "out_res",
                 "out_noise", "out_sto_round", "nm_thres", "max_bm_factor", "max_bm_res", "bm_test_negative_bound",
                 "out_scale", "w_noise"):
        setattr(p, name, getattr(io, name))
    p.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT if io.w_noise > 0 else WeightNoiseType.NONE
    p.noise_management = {"none": NoiseManagementType.NONE, "abs_max": NoiseManagementType.ABS_MAX,
                          "max": NoiseManagementType.MAX, "constant": NoiseManagementType.CONSTANT}[io.noise_management]
    p.bound_management = {"none": BoundManagementType.NONE,
                          "iterative": BoundManagementType.ITERATIVE}[io.bound_management]
    return p


def aihwkit_forward(weights: np.ndarray, x: np.ndarray, io: IOConfig) -> np.ndarray:
    """aihwkit's forward of ``x`` through an inference tile holding ``weights`` exactly."""
    cfg = InferenceRPUConfig()
    cfg.forward = io_parameters(io)
    tile = cfg.create_tile(weights.shape[0], weights.shape[1])
    tile.set_weights(torch.from_numpy(np.array(weights, np.float32)))
    tile.eval()
    with torch.no_grad():
        return tile(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


def ours(weights: np.ndarray, x: np.ndarray, io: IOConfig):
    """(outputs, rounds, the weights held) of our emulated tile (mismatched: the weights its devices hold)."""
    with hil.backend.open("emulator", family="crossbar", shape=weights.shape, serial="EMU-XB-PEER") as tile:
        tile.configure(Config(weights, RPUConfig(forward=io)))
        held = tile.run(WeightRead()).weights
        out = tile.run(Stimulus.forward(x))
    return out.outputs, out.rounds, held


@pytest.mark.parametrize("shape, res, out_bound, nm, bm", GRID,
                         ids=[f"{s[0]}x{s[1]}-res{round(1 / r[0]) if r[0] else 0}-ob{ob:g}-{nm}-{bm}"
                              for s, r, ob, nm, bm in GRID])
def test_the_noise_free_forward_agrees_within_one_output_step(shape, res, out_bound, nm, bm):
    rows, cols = shape
    rng = np.random.default_rng(rows * 7 + cols)
    io = IOConfig(inp_res=res[0], out_res=res[1], out_bound=out_bound, out_noise=0.0, noise_management=nm,
                  bound_management=bm)
    w = rng.uniform(-0.4, 0.4, (rows, cols)).astype(np.float32)
    x = rng.uniform(-1, 1, (64, cols)).astype(np.float32)
    if nm == "none":
        x[:8] *= 1.5                                     # beyond the DAC's bound: clipped by both
    y, rounds, held = ours(w, x, io)
    theirs = aihwkit_forward(held, x, io)
    _, alpha = models.nm_scale(x, io)
    alpha = np.where(alpha > 0, alpha, 1.0) if nm != "none" else np.ones(len(x))
    if io.out_levels:
        step = io.out_step * alpha * 2.0 ** rounds                        # in output units, per vector
        err = np.abs(y - theirs) / step[:, None]
        assert err.max() <= 1.0 + 1e-4, (err.max(), float(np.mean(err == 0)))
    else:   # no converters: float32 rounding of the sums (their order differs)
        scale = np.abs(held).sum(axis=1)[None, :] * np.abs(x).max(axis=1)[:, None] + 1e-30
        assert (np.abs(y - theirs) <= 1e-5 * scale).all()


@pytest.mark.parametrize("case", ["out_noise", "w_noise", "inp_noise"])
def test_noisy_outputs_agree_in_mean_and_variance(case):
    io = {"out_noise": IOConfig(), "w_noise": IOConfig(w_noise=0.02), "inp_noise": IOConfig(inp_noise=0.01)}[case]
    rows, cols, vectors, repeats = 64, 32, 4, 4000
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.3, 0.3, (rows, cols)).astype(np.float32)
    x = np.repeat(rng.uniform(-1, 1, (vectors, cols)).astype(np.float32), repeats, axis=0)
    y, rounds, held = ours(w, x, io)
    theirs = aihwkit_forward(held, x, io)
    assert not rounds.any()
    a, b = (v.astype(np.float64).reshape(vectors, repeats, rows) for v in (y, theirs))
    n_tests = 2 * vectors * rows
    z = stats.norm.isf(ALPHA / (2 * n_tests))
    ma, mb, va, vb = a.mean(1), b.mean(1), a.var(1, ddof=1), b.var(1, ddof=1)
    assert (np.abs(ma - mb) <= z * np.sqrt((va + vb) / repeats)).all()
    m4a = ((a - ma[:, None]) ** 4).mean(1)
    m4b = ((b - mb[:, None]) ** 4).mean(1)
    se = np.sqrt((m4a - va ** 2) / repeats + (m4b - vb ** 2) / repeats)
    assert (np.abs(va - vb) <= z * se).all()
    assert abs(np.median(np.sqrt(va)) / np.median(np.sqrt(vb)) - 1) < 0.05


def aihwkit_update_tile(shape, up: UpdateConfig, dev: DeviceConfig):
    """aihwkit's pulsed tile of constant-step devices (its own devices, drawn once with a fixed seed)."""
    u = UpdateParameters()
    for name in ("desired_bl", "update_management", "update_bl_management", "fixed_bl", "res", "sto_round",
                 "um_grad_scale"):
        setattr(u, name, getattr(up, name))
    d = ConstantStepDevice(construction_seed=20)
    for name in ("dw_min", "dw_min_dtod", "dw_min_std", "up_down", "up_down_dtod", "w_max", "w_max_dtod", "w_min",
                 "w_min_dtod", "enforce_consistency"):
        setattr(d, name, getattr(dev, name))
    tile = SingleRPUConfig(device=d, update=u).create_tile(shape[0], shape[1])
    tile.set_weights(torch.zeros(shape))
    return tile


class Theirs:
    def __init__(self, shape, up, dev):
        self.tile = aihwkit_update_tile(shape, up, dev)
        hidden = self.tile.get_hidden_parameters()
        self.scale_down = hidden["dwmin_down"].numpy().astype(np.float64)

    def reset(self):
        self.tile.set_weights(torch.zeros(self.tile.get_weights()[0].shape))

    def update(self, x, d, lr):
        self.tile.set_learning_rate(lr)
        self.tile.update(torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(d, np.float32)))

    def weights(self):
        return self.tile.get_weights()[0].numpy().astype(np.float64)


class Ours:
    def __init__(self, shape, up, dev):
        self.shape, self.rpu = shape, RPUConfig(update=up, device=dev)
        self.tile = hil.backend.open("emulator", family="crossbar", shape=shape, serial="EMU-XB-PEER")
        self.reset()
        self.scale_down = self.tile.tile.devices.scale_down.astype(np.float64)

    def reset(self):
        self.tile.configure(Config(np.zeros(self.shape, np.float32), self.rpu))

    def update(self, x, d, lr):
        self.tile.run(Stimulus.update(x, d, lr))

    def weights(self):
        return self.tile.run(WeightRead()).weights.astype(np.float64)


def _steps(t, shape, pulses: int, updates: int, dev: DeviceConfig, sign: float):
    """Per device: the mean step per pulse (dw_min units) and the increments of ``updates`` updates of
    ``pulses`` coincidences that always fire (x = d = 2 at A = B = 1)."""
    rows, cols = shape
    t.reset()
    w = [t.weights()]
    for _ in range(updates):
        t.update(np.full((1, cols), 2.0), np.full((1, rows), 2.0 * sign), pulses * dev.dw_min)
        w.append(t.weights())
    w = np.array(w)
    inc = -sign * np.diff(w, axis=0) / (pulses * dev.dw_min)
    return inc.mean(axis=0), inc


def test_the_pulsed_update_agrees_in_mean_and_spread_per_pulse():
    shape, pulses, updates = (256, 64), 8, 8
    dev = DeviceConfig()
    up = UpdateConfig(desired_bl=pulses, update_management=False, update_bl_management=False)
    tiles = {"ours": Ours(shape, up, dev), "aihwkit": Theirs(shape, up, dev)}
    n = shape[0] * shape[1]
    z = stats.norm.isf(ALPHA / (2 * 6))
    found = {}
    for name, t in tiles.items():
        s_down, inc = _steps(t, shape, pulses, updates, dev, +1.0)
        s_up, _ = _steps(t, shape, pulses, updates, dev, -1.0)
        # devices whose own bound is within the excursion (|bound| < 0.15) clip: left out of both
        g = s_down > 0.05
        resid = (inc - inc.mean(axis=0))[:, g] / (s_down[g] * dev.dw_min_std / math.sqrt(pulses))
        found[name] = {"down": s_down[g], "up": s_up[g],
                       "ctoc": float(np.sqrt(np.sum(resid ** 2) / (g.sum() * (updates - 1))))}
    a, b = found["ours"], found["aihwkit"]
    for key in ("down", "up"):
        se = math.sqrt(a[key].var() / a[key].size + b[key].var() / b[key].size)
        assert abs(a[key].mean() - b[key].mean()) <= z * se, (key, a[key].mean(), b[key].mean(), se)
        # the spreads: an F-test of the two variances
        f = a[key].var(ddof=1) / b[key].var(ddof=1)
        lo, hi = stats.f.ppf([ALPHA / 12, 1 - ALPHA / 12], a[key].size - 1, b[key].size - 1)
        assert lo <= f <= hi, (key, f, lo, hi)
    dof = n * (updates - 1)
    ctoc_se = math.sqrt(2 / dof)
    assert abs(a["ctoc"] - b["ctoc"]) <= z * ctoc_se * 1.5, (a["ctoc"], b["ctoc"])


def test_stochastic_trains_give_the_same_coincidences():
    """x_j, d_i from 0.2 to 1 at the default update management (BL 3): each tile's total change against
    ``BL p_x p_d`` coincidences of its own devices' steps, blocks of 16 updates from weights 0."""
    shape, blocks, reps = (256, 64), 16, 16
    dev, up = DeviceConfig(), UpdateConfig()
    rows, cols = shape
    x, d = np.linspace(0.2, 1.0, cols), np.linspace(0.2, 1.0, rows)
    lr = 2.5 * dev.dw_min
    bl, p_rows, p_cols = models.probabilities(lr, x, d, dev.dw_min, up)
    ratios = {}
    for name, t in (("ours", Ours(shape, up, dev)), ("aihwkit", Theirs(shape, up, dev))):
        change = np.zeros(shape)
        for _ in range(blocks):
            t.reset()
            t.update(np.tile(x, (reps, 1)), np.tile(d, (reps, 1)), lr)
            change -= t.weights()
        g = t.scale_down / dev.dw_min
        ok = g > 0.05
        g = np.where(ok, g, 0.0)
        slots = blocks * reps * bl
        denominator = float(np.sum(slots * g * np.outer(p_rows, p_cols)))
        var = slots * models.weighted_coincidence_variance(g, p_rows, p_cols) + \
            np.sum(g ** 2 * blocks * reps * bl * np.outer(p_rows, p_cols)) * dev.dw_min_std ** 2
        ratios[name] = (float(np.sum(change[ok] / dev.dw_min) / denominator), math.sqrt(var) / denominator)
    z = stats.norm.isf(ALPHA / 2)
    (ra, sa), (rb, sb) = ratios["ours"], ratios["aihwkit"]
    assert abs(ra - 1) <= z * sa and abs(rb - 1) <= z * sb and abs(ra - rb) <= z * math.hypot(sa, sb), ratios
