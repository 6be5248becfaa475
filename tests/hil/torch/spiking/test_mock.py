"""Mock mode: the model against the explicit-Euler recursion written out, its surrogate, its gradients.

With ``a = dt / tau`` (tau_mem = tau_syn) and one input of weight w at step t0, the Euler
recursion of hil.torch.spiking.functional has the closed form

    i[t0 + n] = w (1 - a)**(n - 1),   v[t0 + n] = leak + a w n (1 - a)**(n - 1)    (n >= 1)

(induction: v[n+1] = (1 - a) v[n] + a i[n+1]). Float32 against float64: 1e-4 LSB.
"""
import math

import pytest
import torch

from hil.torch import spiking
from hil.torch.spiking.functional import SuperSpike, superspike

TOL = 1e-4


def layer(n_in=1, n_out=1, weight=None, readout=False, dt=1e-6, **neuron):
    exp = spiking.Experiment(dt=dt, mock=True)
    syn = spiking.Synapse(n_in, n_out, exp)
    lif = (spiking.ReadoutNeuron if readout else spiking.Neuron)(n_out, exp, **neuron)
    if weight is not None:
        with torch.no_grad():
            syn.weight.fill_(weight)
    return exp, syn, lif


def run(exp, syn, lif, spikes):
    out = lif(syn(spiking.NeuronHandle(spikes)))
    spiking.run(exp, spikes.shape[0])
    return out


def euler_reference(inputs: list[float], leak, reset, threshold, a_mem, a_syn, hold_steps):
    """The model's recursion in plain floats, one neuron: (spike steps, membrane)."""
    v, i, held, spikes, trace = leak, 0.0, 0, [], [leak]
    for t in range(len(inputs) - 1):
        i = i * (1 - a_syn) + inputs[t]
        v = reset if held > 0 else v + a_mem * (leak - v + i)
        if held > 0:
            held -= 1
        elif v >= threshold:
            spikes.append(t + 1)
            v, held = reset, hold_steps
        trace.append(v)
    return spikes, trace


def test_a_default_neuron_rests_at_80_without_input():
    out = run(*layer(weight=10.0), torch.zeros(40, 2, 1))
    assert torch.equal(out.membrane_cadc, torch.full((40, 2, 1), 80.0))
    assert out.spikes.sum() == 0 and out.current.abs().sum() == 0


def test_a_psp_is_the_euler_closed_form():
    w, t0, a = 30.0, 5, 1e-6 / 10e-6
    x = torch.zeros(60, 1, 1)
    x[t0] = 1
    out = run(*layer(weight=w), x)      # peak 80 + 30 * 0.387 = 91.6 < 125: no spike
    n = torch.arange(60, dtype=torch.float64) - t0
    expected = torch.where(n >= 1, 80 + a * w * n * (1 - a) ** (n - 1), torch.tensor(80.0, dtype=torch.float64))
    current = torch.where(n >= 1, w * (1 - a) ** (n - 1), torch.tensor(0.0, dtype=torch.float64))
    torch.testing.assert_close(out.membrane_cadc[:, 0, 0].double(), expected, atol=TOL, rtol=0)
    torch.testing.assert_close(out.current[:, 0, 0].double(), current, atol=TOL, rtol=0)
    assert out.spikes.sum() == 0


def test_a_default_neuron_fires_at_125_and_holds_at_reset_while_refractory():
    """A strong input: the first spike is the first step at which the closed form reaches 125;
    the membrane is 80 there and for the 2 refractory steps (2 us) after it, though the current
    is large; then it integrates again. The whole trace equals the recursion in plain floats."""
    w, t0, a = 200.0, 3, 0.1
    x = torch.zeros(40, 1, 1)
    x[t0] = 1
    out = run(*layer(weight=w), x)
    v = out.membrane_cadc[:, 0, 0]
    first = next(n for n in range(1, 40) if 80 + a * w * n * (1 - a) ** (n - 1) >= 125) + t0
    spikes = torch.nonzero(out.spikes[:, 0, 0]).flatten().tolist()
    assert spikes[0] == first == 6
    assert torch.all(v[first:first + 3] == 80.0)           # the spike step and two refractory steps
    # free again: one Euler step from the reset with the current w (1 - a)**(n - 1) at n = 6 (118)
    assert v[first + 3].item() == pytest.approx(80.0 + a * w * (1 - a) ** (first + 3 - t0 - 1), abs=TOL)
    ref_spikes, ref_trace = euler_reference((w * x[:, 0, 0]).tolist(), 80.0, 80.0, 125.0, a, a, 2)
    assert spikes == ref_spikes
    torch.testing.assert_close(v.double(), torch.tensor(ref_trace, dtype=torch.float64), atol=TOL, rtol=0)
    assert torch.all(v < 125.0)                             # the trace shows the reset, not the crossing


def test_mixed_parameters_and_per_neuron_values_reach_the_model():
    x = (torch.rand(50, 3, 2) < 0.2).float()
    _, syn, lif = layer(2, 2, leak=spiking.MixedHXModelParameter(0.0, 80.0),
                        reset=spiking.MixedHXModelParameter(torch.tensor([-0.1, 0.0]), 80.0),
                        threshold=spiking.MixedHXModelParameter(1.0, 125.0),
                        tau_mem=[10e-6, 5e-6], tau_syn=spiking.MixedHXModelParameter(4e-6, 10e-6),
                        refractory_time=spiking.MixedHXModelParameter(3e-6, 2e-6))
    with torch.no_grad():
        syn.weight.copy_(torch.tensor([[0.4, 0.3], [0.2, 0.5]]))
    out = run(syn.experiment, syn, lif, x)
    for b in range(3):
        for j, (reset, a_mem) in enumerate(((-0.1, 0.1), (0.0, 0.2))):
            inputs = (x[:, b] @ syn.weight.detach().t())[:, j].tolist()
            ref_spikes, ref_trace = euler_reference(inputs, 0.0, reset, 1.0, a_mem, 0.25, 3)
            assert torch.nonzero(out.spikes[:, b, j]).flatten().tolist() == ref_spikes
            torch.testing.assert_close(out.membrane_cadc[:, b, j].double(), torch.tensor(ref_trace).double(),
                                       atol=TOL, rtol=0)
    assert out.spikes.sum() > 0


def test_a_readout_neuron_integrates_without_spiking():
    w, t0, a = 200.0, 3, 0.1
    x = torch.zeros(40, 1, 1)
    x[t0] = 1
    out = run(*layer(weight=w, readout=True), x)
    n = torch.arange(40, dtype=torch.float64) - t0
    expected = torch.where(n >= 1, 80 + a * w * n * (1 - a) ** (n - 1), torch.tensor(80.0, dtype=torch.float64))
    torch.testing.assert_close(out.membrane_cadc[:, 0, 0].double(), expected, atol=1e-3, rtol=0)
    assert out.membrane_cadc.max() > 125 and out.spikes is None


def test_superspike_forward_and_its_surrogate_gradient():
    x = torch.tensor([-1.0, -0.02, 0.0, 0.01, 2.0], requires_grad=True)
    y = SuperSpike.apply(x, 50.0)
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    y.backward(torch.tensor([1.0, 1.0, 1.0, 2.0, 1.0]))
    expected = [1 / 51 ** 2, 1 / 2 ** 2, 1.0, 2 / 1.5 ** 2, 1 / 101 ** 2]
    torch.testing.assert_close(x.grad, torch.tensor(expected))
    z = torch.tensor([0.1], requires_grad=True)
    superspike(z, alpha=10.0).backward()
    assert z.grad.item() == pytest.approx(1 / 2.0 ** 2)


def test_the_membrane_gradient_is_the_closed_forms_derivative():
    """d v[t0 + n] / d w = a n (1 - a)**(n - 1): the model is linear in w below threshold."""
    t0, n, a = 4, 7, 0.1
    x = torch.zeros(20, 1, 1)
    x[t0] = 1
    exp, syn, lif = layer(weight=20.0)
    out = run(exp, syn, lif, x)
    out.membrane_cadc[t0 + n, 0, 0].backward()
    assert syn.weight.grad.item() == pytest.approx(a * n * (1 - a) ** (n - 1), rel=1e-5)


def test_a_spike_count_loss_sends_the_surrogate_gradient_to_the_weight():
    """One input at t0, the first spike at s: d z[s] / d w = SuperSpike'(v - 125) * d v / d w at s,
    with v the pre-reset membrane (the closed form), as the recursion has no reset before s."""
    w, t0, a = 200.0, 3, 0.1
    x = torch.zeros(12, 1, 1)
    x[t0] = 1
    exp, syn, lif = layer(weight=w)
    out = run(exp, syn, lif, x)
    s = 6
    assert out.spikes[s, 0, 0] == 1 and out.spikes[:s].sum() == 0
    out.spikes[s, 0, 0].backward()
    n = s - t0
    v = 80 + a * w * n * (1 - a) ** (n - 1)
    expected = a * n * (1 - a) ** (n - 1) / (50 * abs(v - 125) + 1) ** 2
    assert syn.weight.grad.item() == pytest.approx(expected, rel=1e-4)


def test_gradients_flow_through_two_spiking_layers():
    exp = spiking.Experiment(mock=True)
    syn1, lif1 = spiking.Synapse(5, 4, exp), spiking.Neuron(4, exp, leak=0.0, reset=0.0, threshold=1.0)
    syn2, li = spiking.Synapse(4, 2, exp), spiking.ReadoutNeuron(2, exp, leak=0.0)
    with torch.no_grad():
        syn1.weight.uniform_(0.5, 1.5)
    x = (torch.rand(30, 2, 5) < 0.3).float()
    y = li(syn2(lif1(syn1(spiking.NeuronHandle(x)))))
    spiking.run(exp, 30)
    y.membrane_cadc.sum().backward()
    assert syn1.weight.grad.abs().sum() > 0 and syn2.weight.grad.abs().sum() > 0
    assert math.isfinite(syn1.weight.grad.sum().item())


def test_run_fills_the_handles_and_forgets_the_calls():
    exp, syn, lif = layer(weight=1.0)
    out = lif(syn(spiking.NeuronHandle(torch.zeros(5, 1, 1))))
    assert out.spikes is None and out.membrane_cadc is None
    spiking.run(exp, 5)
    assert out.spikes.shape == out.membrane_cadc.shape == out.current.shape == (5, 1, 1)
    assert out.membrane_madc is None                         # no MADC in mock mode
    with pytest.raises(spiking.experiment.InvalidValue, match="no layer calls"):
        spiking.run(exp, 5)
    again = lif(syn(spiking.NeuronHandle(torch.zeros(5, 1, 1))))   # a training loop calls its layers again
    spiking.run(exp, 5)
    assert again.membrane_cadc.shape == (5, 1, 1)
