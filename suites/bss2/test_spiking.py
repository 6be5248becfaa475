"""The spiking-mode experiments on the device under test, the ideal chip against the LifModel,
exact event routing, and a fault the experiments must catch (docs/spiking.md#models-and-experiments).

A device without the spiking mode (the RTL core) skips every test here with its reason.
"""
import numpy as np
import pytest

import hil.experiment
from emulator.bss2 import Faults

EXPERIMENTS = ("bss2.psp_shape", "bss2.spike_threshold", "bss2.fi_curve", "bss2.label_routing", "bss2.cadc_vs_madc",
               "bss2.trace_alignment")


@pytest.fixture(scope="module", autouse=True)
def _runs_the_spiking_mode(require_mode):
    require_mode("spiking")


def _failed(result) -> str:
    return "; ".join(f"{m.name}={m.value:.4g} (limit {m.comparison} {m.limit:.4g}, {m.source}: {m.detail})"
                     for m in result.verdict.failed)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_passes_on_the_device(backend, results_store, name):
    r = hil.experiment.run(name, backend, store=results_store)
    assert r.verdict.passed, f"{name} on {backend!r}: {_failed(r)}"


@pytest.fixture(scope="module")
def ideal_psp(ideal_backend):
    return hil.experiment.run("bss2.psp_shape", ideal_backend)


def test_ideal_psp_equals_the_model(ideal_psp):
    """Every CADC and MADC code of the ideal chip is the model's floor within the stated float32
    error, and the fitted amplitude, time to peak and decay equal the model's within the floor's
    worst case (the bounds the experiment derives)."""
    assert ideal_psp.metric("prediction_mismatches").value == 0
    assert ideal_psp.summary["float32_error_lsb"] < 0.01
    for f in ("amplitude", "time_to_peak", "decay"):
        assert ideal_psp.metric(f"{f}_outside_neurons").value == 0, _failed(ideal_psp)
    low, high = ideal_psp.prediction["psp_features_low"], ideal_psp.prediction["psp_features_high"]
    model = ideal_psp.prediction["psp_features_model"][:, None]
    assert np.all((low <= model) & (model <= high))       # centred on the model: no spread, only the floor


def test_ideal_fi_curve_equals_the_grid_model(ideal_backend):
    r = hil.experiment.run("bss2.fi_curve", ideal_backend)
    assert r.verdict.passed, _failed(r)
    assert r.metric("prediction_mismatches").value == 0
    assert np.array_equal(r.raw["spike_counts"], np.broadcast_to(r.prediction["spike_counts"][:, None, None],
                                                                 r.raw["spike_counts"].shape))
    assert np.array_equal(r.raw["fi_rate"], np.broadcast_to(r.prediction["fi_rate_model"][:, None], r.raw["fi_rate"].shape))
    # Zero below rheobase, and the grid's rates near the continuous f-I curve (within a grid step per interval).
    assert r.raw["fi_rate"][0].max() == 0
    cont = r.prediction["fi_rate_continuous"]
    assert np.all(np.abs(r.prediction["fi_rate_model"][1:] / cont[1:] - 1) < 0.05)


@pytest.mark.parametrize("seed", [1, 2])
def test_routing_is_exact_on_the_ideal_chip(ideal_backend, seed):
    r = hil.experiment.run("bss2.label_routing", ideal_backend, seed=seed)
    assert r.summary["expected_excitatory"] >= 4 and r.summary["expected_inhibitory"] >= 4   # something to find
    assert r.metric("misrouted_responses").value == 0
    assert np.array_equal(r.raw["routing_response"], r.prediction["routing_response"])


def test_ideal_adcs_agree_exactly(ideal_backend):
    r = hil.experiment.run("bss2.cadc_vs_madc", ideal_backend)
    assert r.metric("prediction_mismatches").value == 0 and r.verdict.passed


@pytest.mark.parametrize("experiment, metrics", [
    ("bss2.fi_curve", ("silent_neurons", "rate_outside_neurons")),
    ("bss2.spike_threshold", ("silent_neurons", "threshold_outside_neurons")),
])
def test_dead_neuron_is_caught(open_backend, experiment, metrics):
    faulty = hil.experiment.run(experiment, open_backend(serial="EMU-FAULT", faults=Faults(dead_neurons=(77,))))
    healthy = hil.experiment.run(experiment, open_backend(serial="EMU-FAULT"))
    assert healthy.verdict.passed, _failed(healthy)
    for name in metrics:
        m = faulty.metric(name)
        assert not m.passed and m.value == 1, f"dead neuron 77 not caught by {name}: {m.value} ({m.detail})"
