"""hil.dynapse2.models: the DPI time constants and pulse widths, and a DPI synapse's response, against
the same formulas written out and the defaults they are built from (rockpool's default currents)."""
import math

import pytest

from hil.dynapse2 import models as m
from hil.errors import InvalidValue

L = m.DEFAULT_LAYOUT


def test_the_default_currents_give_the_default_time_constants():
    # rockpool builds its default leak currents as (U_T / kappa) C / tau: they give tau back.
    for c, tau in ((L.C_mem, 20e-3), (L.C_ampa, 10e-3), (L.C_nmda, 10e-3), (L.C_ahp, 50e-3)):
        i = (L.U_T / ((L.kappa_n + L.kappa_p) / 2)) * c / tau
        assert m.time_constant(i, c) == pytest.approx(tau, rel=1e-15)
        assert m.tau_current(tau, c) == pytest.approx(i, rel=1e-15)
    assert m.pulse_width(L.Vth * L.C_pulse / 10e-6, L.C_pulse) == pytest.approx(10e-6, rel=1e-15)
    assert m.pulse_width(L.Vth * L.C_ref / 1e-3, L.C_ref) == pytest.approx(1e-3, rel=1e-15)


def test_a_synapse_decays_with_its_time_constant_and_trains_sum_geometrically():
    s = m.DpiSynapse(i_tau=m.tau_current(10e-3, L.C_ampa), i_gain=100 * m.tau_current(10e-3, L.C_ampa), i_w=1e-9)
    assert s.tau == pytest.approx(10e-3, rel=1e-15)
    assert s.jump == pytest.approx(100 * 1e-9 * (1 - math.exp(-10e-6 / 10e-3)), rel=1e-12)
    assert s.response(0.0) == s.jump and s.response(s.tau) == pytest.approx(s.jump / math.e, rel=1e-15)
    period = 5e-3
    direct = sum(s.jump * math.exp(-k * period / s.tau) for k in range(2000))
    assert s.train_peak(period) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("call, field", [(lambda: m.time_constant(0.0, L.C_mem), "i_tau"),
                                         (lambda: m.time_constant(float("nan"), L.C_mem), "i_tau"),
                                         (lambda: m.tau_current(-1.0, L.C_mem), "tau"),
                                         (lambda: m.pulse_width(1e-9, 0.0), "capacitance"),
                                         (lambda: m.DpiSynapse(i_tau=1e-12, i_gain=1e-10, i_w=0.0), "i_w"),
                                         (lambda: m.Layout(U_T=float("inf")), "U_T")])
def test_bad_values_are_refused_by_name(call, field):
    with pytest.raises(InvalidValue) as e:
        call()
    assert e.value.field == field


def test_the_neuron_model_reads_the_core_biases():
    n = m.Neuron.of({"Itau_ampa": (1, 208), "Iref": (2, 53)})
    assert n.synapse_tau("ampa") == pytest.approx(m.time_constant(n.currents["Itau_ampa"], L.C_ampa), rel=1e-15)
    t_ref = L.Vth * L.C_ref / n.currents["Iref"]
    assert n.refractory_steps(1e-5) == math.ceil(t_ref / 1e-5)
    w = n.currents["Iw_0"] + n.currents["Iw_3"]
    gain = n.currents["Igain_ampa"] / n.currents["Itau_ampa"]
    assert n.event_jump("ampa", w) == pytest.approx((1 - math.exp(-n.t_pulse / n.synapse_tau("ampa"))) * (gain * w - L.Io),
                                                    rel=1e-12)
    assert n.event_jump("ampa", 0.0) == 0.0          # the charge target is clipped at Io: nothing beyond rest


def test_the_f_i_curve_rises_with_the_drive_and_stops_below_the_leak():
    isi = [m.Neuron.of({"Idc": (c, f)}).isi(1e-5) for c, f in ((2, 60), (3, 60), (4, 60))]
    assert isi[0] > isi[1] > isi[2] > 0
    assert m.Neuron.of({"Idc": (0, 0)}).isi(1e-5) == math.inf     # the membrane settles below threshold


def test_the_stated_mismatch_bounds():
    assert m.log_gain_sigma() == pytest.approx(0.1013, abs=1e-4)   # ln(1 + 0.1 N), slightly above 0.1
    lo, hi = m.gain_box({"a": 1}, 2.0)
    assert (lo, hi) == pytest.approx((0.8 ** 2, 1.2 ** 2))
    lo, hi = m.gain_box({"a": 1, "b": -1}, 2.0)
    assert (lo, hi) == pytest.approx((0.8 ** 2 / 1.2 ** 2, 1.2 ** 2 / 0.8 ** 2))
