"""The analog experiments on the device under test and on the ideal chip, against the closed-form models
(docs/dynapse2.md#experiments): exact on the ideal chip, within the stated mismatch on the device; and
the acceptance specification of the family on the device."""
import numpy as np
import pytest

import hil.experiment
from hil.acceptance import default_spec_path, load_spec, run_acceptance

TRACED = ("dynapse2.synapse_time_constant", "dynapse2.synapse_gain", "dynapse2.biasgen_sweep",
          "dynapse2.mismatch_spread")
SPIKING = ("dynapse2.fi_curve", "dynapse2.refractory_period")


def _failed(r) -> str:
    return "; ".join(f"{m.name}={m.value:.4g} (limit {m.comparison} {m.limit:.4g}: {m.detail})" for m in r.verdict.failed)


@pytest.mark.parametrize("name", TRACED + SPIKING)
def test_experiment_passes_on_the_device(d2_backend, d2_require_mode, results_store, name):
    d2_require_mode(hil.experiment.mode(name))
    r = hil.experiment.run(name, d2_backend, store=results_store)
    assert r.verdict.passed, f"{name} on {d2_backend!r}: {_failed(r)}"


@pytest.mark.parametrize("name", TRACED + SPIKING)
def test_the_ideal_chip_is_the_model(d2_ideal, name):
    if hil.experiment.mode(name) not in d2_ideal.info().modes:
        pytest.skip(f"{d2_ideal!r} does not run the {hil.experiment.mode(name)!r} mode")
    r = hil.experiment.run(name, d2_ideal)
    assert r.verdict.passed, _failed(r)
    if name in ("dynapse2.synapse_time_constant", "dynapse2.synapse_gain"):
        key = "tau" if "tau" in r.raw else "jump"
        np.testing.assert_allclose(r.raw[key], r.prediction[key], rtol=1e-9)
    if name == "dynapse2.refractory_period":
        assert (r.raw["steps"] == r.prediction["steps"][:, None]).all()      # every neuron, to the step
    if name == "dynapse2.mismatch_spread":
        assert r.summary["tau_log_std"] < 1e-12                              # identical neurons


def test_a_mismatched_chip_shows_the_stated_spread(d2_backend, d2_require_mode):
    """The spread the experiment measures is the chip's: not 0 (a device that hid its mismatch, or a
    constant model, fails), and within the chi-square bounds of the stated 10 %."""
    d2_require_mode("traces")
    if d2_backend.info().ideal:
        pytest.skip("the device under test is ideal")
    r = hil.experiment.run("dynapse2.mismatch_spread", d2_backend)
    assert 0.08 < r.summary["tau_log_std"] < 0.12 and 0.08 < r.summary["threshold_log_std"] < 0.12


def test_the_acceptance_specification_passes_on_the_device(d2_backend, d2_require_mode, results_store):
    spec = load_spec(default_spec_path("dynapse2"))
    for mode in spec.modes:
        d2_require_mode(mode)
    acceptance = run_acceptance(d2_backend, spec, store=results_store)
    assert acceptance.passed, [j.key for j in acceptance.failed]
