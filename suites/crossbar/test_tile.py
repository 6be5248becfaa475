"""The tile under test and the perfect tile against the analytical models (docs/crossbar.md#experiments):
the forward pass exact without noise and within the sampling error of its exact distribution with it; the
pulsed update's steps, spreads, coincidences and bounds within the stated device spreads; programming by
pulses; and the family's acceptance specification."""
import numpy as np
import pytest

import hil.experiment
from hil.acceptance import default_spec_path, load_spec, run_acceptance
from hil.crossbar import models
from hil.crossbar.experiments.forward import held_weights
from hil.crossbar.types import Config, Stimulus

EXPERIMENTS = ("crossbar.forward_transfer", "crossbar.forward_noise", "crossbar.update_response",
               "crossbar.program_and_verify")


def _failed(r) -> str:
    return "; ".join(f"{m.name}={m.value:.4g} (limit {m.comparison} {m.limit:.4g}: {m.detail})" for m in r.verdict.failed)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_passes_on_the_tile(xb_backend, xb_require_mode, results_store, name):
    xb_require_mode(hil.experiment.mode(name))
    r = hil.experiment.run(name, xb_backend, store=results_store)
    assert r.verdict.passed, f"{name} on {xb_backend!r}: {_failed(r)}"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_perfect_tile_is_the_model(xb_ideal, name):
    r = hil.experiment.run(name, xb_ideal)
    assert r.verdict.passed, _failed(r)


def test_the_forward_without_noise_is_the_model_output_for_output(xb_backend, xb_require_mode):
    """Exact, saturation and bound-management rounds included; the sweep shows every DAC level."""
    r = hil.experiment.run("crossbar.forward_transfer", xb_backend)
    for part in ("sweep", "random", "no_bm", "bm"):
        np.testing.assert_array_equal(r.raw[f"{part}_outputs"], r.prediction[f"{part}_outputs"])
    assert r.metric("dac_levels").value == 127                       # 2 N + 1, N = 63 (inp_res 1/126)
    assert r.metric("saturated_without_bm").value > 0.5 and r.metric("saturated_with_bm").value == 0


def test_the_backward_pass_is_the_transposed_model(xb_backend):
    info = xb_backend.info().geometry
    rows, cols = info["rows"], info["columns"]
    rng = np.random.default_rng(4)
    w = rng.uniform(-0.2, 0.2, (rows, cols)).astype(np.float32)
    config = Config(w)
    io = config.rpu_config.backward.replace(out_noise=0.0)
    xb_backend.configure(config.with_rpu_config(config.rpu_config.replace(backward=io)))
    held = held_weights(xb_backend, config)
    d = rng.normal(0, 1, (32, rows))
    out = xb_backend.run(Stimulus.backward(d))
    want = models.forward(np.ascontiguousarray(held.T), d, io, bound_management=False,
                          perfect=xb_backend.info().ideal)
    np.testing.assert_array_equal(out.outputs, want.outputs)
    assert not out.rounds.any()


def test_the_tile_shows_its_stated_spreads(xb_backend, xb_require_mode):
    """The measured step spread is the tile's: not 0 (a tile that hid its variation fails)."""
    xb_require_mode("readback")
    if xb_backend.info().ideal:
        pytest.skip("the tile under test is perfect")
    r = hil.experiment.run("crossbar.update_response", xb_backend)
    assert abs(r.metric("step_spread_deviation").value) < 0.01        # the spread itself is about 0.30
    assert r.summary["step_spread_model"] > 0.29


def test_the_acceptance_specification_passes_on_the_tile(xb_backend, xb_require_mode, results_store):
    spec = load_spec(default_spec_path("crossbar"))
    for mode in spec.modes:
        xb_require_mode(mode)
    acceptance = run_acceptance(xb_backend, spec, store=results_store)
    assert acceptance.passed, [j.key for j in acceptance.failed]
