"""Every metric of every bss2 experiment has a 95 % interval, or says why it has none: on the
emulated chip every one has an interval, on the ideal chip every value is exact or keeps the
interval its experiment estimates."""
import math

import pytest

import hil
from emulator.bss2 import Faults
from hil.contract import statistics

SMALL = {
    # The fewest repeats that still give every bootstrap its minimum (and mac_noise its
    # normality test, cadc_code_density its missing-code bound).
    "bss2.mac_linearity": {"repeats": statistics.BOOTSTRAP_MIN_SAMPLES},
    "bss2.mac_noise": {"repeats": 40},
    "bss2.mac_fixed_pattern": {"repeats": statistics.BOOTSTRAP_MIN_SAMPLES},
    "bss2.mac_gain": {"batch": 20},
    "bss2.mac_sends_and_wait": {"repeats": statistics.BOOTSTRAP_MIN_SAMPLES},
    "bss2.mac_neuron_profile": {"repeats": statistics.BOOTSTRAP_MIN_SAMPLES},
    "bss2.cadc_code_density": {"repeats": statistics.BOOTSTRAP_MIN_SAMPLES},
    # The spiking mode's, small on the numpy chip (a bootstrap over the threshold's trials needs 8).
    "bss2.psp_shape": {"window_us": 40.0},
    "bss2.spike_threshold": {"trials": statistics.BOOTSTRAP_MIN_SAMPLES, "duration_us": 50.0},
    "bss2.fi_curve": {"trials": 1},
    "bss2.label_routing": {"events": 8},
    "bss2.label_scan": {},
    "bss2.cadc_vs_madc": {"neurons": 2},
    "bss2.trace_alignment": {"trials": 2},
    # The structural tests (one size each).
    "bss2.synapse_memory": {},
    "bss2.synapse_scan": {},
    "bss2.driver_scan": {},
    "bss2.column_check": {},
    # The CADC channels' transfer and the CapMem cells.
    "bss2.cadc_transfer": {"repeats": 4},
    "bss2.capmem_scan": {"trials": 2},
}
DIGITAL = {"bss2.synapse_memory"}
"""Experiments of a digital readback: their counts are exact on every chip (no noise to sample)."""


def test_every_bss2_experiment_is_covered():
    assert sorted(n for n in hil.experiment.names() if n.startswith("bss2.")) == sorted(SMALL)


@pytest.fixture(scope="module", params=[False, True], ids=["emulated", "ideal"])
def results(request):
    with hil.backend.open("emulator", serial="EMU-0042", ideal=request.param) as chip:
        return request.param, {n: hil.experiment.run(n, chip, **p) for n, p in SMALL.items()}


def test_every_metric_has_an_interval_or_a_reason(results):
    ideal, runs = results
    for name, r in runs.items():
        assert sorted(m.name for m in r.metrics) == sorted(hil.experiment.get(name).metric_names)
        for m in r.metrics:
            where = f"{name}.{m.name}"
            if ideal or name in DIGITAL:
                # Exact, or the interval the experiment estimates from the spread over neurons or
                # a fit's residuals (normal, symmetric), which an ideal chip has too.
                assert m.no_interval.startswith("exact:") or (m.interval is not None and m.interval_method), where
            else:
                assert m.has_interval and m.interval_method and not m.no_interval, where
                assert m.low <= m.high and math.isfinite(m.value), where


def test_every_interval_holds_its_value_and_names_its_statistics(results):
    ideal, runs = results
    if ideal:      # no noise: the counts are what they are
        assert runs["bss2.mac_gain"].metric("prediction_mismatches").no_interval.startswith("exact:")
        assert runs["bss2.mac_fixed_pattern"].metric("dead_neurons").no_interval.startswith("exact:")
        return
    methods = {}
    for name, r in runs.items():
        if name in DIGITAL:
            assert all(m.no_interval.startswith("exact:") for m in r.metrics), name
            continue
        for m in r.metrics:
            # Clopper-Pearson holds the count, chi-square the estimate, the others are value -+ errors.
            assert m.low <= m.value <= m.high, f"{name}.{m.name}"
            methods[f"{name}.{m.name}"] = m.interval_method
    assert methods["bss2.mac_gain.prediction_mismatches"].startswith("Clopper-Pearson") and \
        "of 20480 outputs" in methods["bss2.mac_gain.prediction_mismatches"]
    assert methods["bss2.mac_noise.noise_rel_error"].startswith("chi-square")
    assert "bootstrap over the 40 repeats" in methods["bss2.mac_noise.noise_max"]
    assert "bootstrap over the 8 ramp passes" in methods["bss2.cadc_code_density.dnl_max"]
    assert "bootstrap over the 8 repeats of each of 159 sweep points" in methods["bss2.mac_linearity.r2_min"]


def test_too_few_repeats_for_a_bootstrap_are_said_so():
    with hil.backend.open("emulator", serial="EMU-0042") as chip:
        r = hil.experiment.run("bss2.mac_neuron_profile", chip, repeats=3)
    m = r.metric("profile_spread")
    assert not m.has_interval and m.no_interval == "undefined: 3 repeats; a bootstrap interval needs at least 8"
    assert r.metric("prediction_mismatches").has_interval        # a count needs no repeats


def test_a_dead_neuron_is_counted_with_its_interval():
    with hil.backend.open("emulator", serial="EMU-0042", faults=Faults(dead_neurons=(77,))) as chip:
        m = hil.experiment.run("bss2.mac_fixed_pattern", chip, repeats=8).metric("dead_neurons")
    # Clopper-Pearson of 1 of 512: the rates at which 1 or more, and 1 or fewer, have 2.5 % chance.
    from scipy import optimize, stats
    high = optimize.brentq(lambda p: stats.binom.cdf(1, 512, p) - 0.025, 1e-6, 0.5, xtol=1e-14)
    assert m.value == 1 and (m.low, m.high) == (pytest.approx(512 * (1 - 0.975 ** (1 / 512))),
                                                pytest.approx(512 * high))
