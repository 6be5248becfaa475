"""In the loop on the ideal emulated chip, whose neurons are the exact LIF (no mismatch, no noise).

On a grid of dt = 2 us with the CADC sampling every 250 cycles (2 us), sample t is the
membrane at t * dt, read as ``floor(V)`` (docs/spiking.md#readout): the chip's trace lies in
``(V - 1, V]`` of the exact LIF, which :func:`exact_lif` integrates in float64 with the
chip's documented rules (events at their grid point, spikes at the first grid point at or
above threshold, the hold at reset). The emulator's state is float32: 1e-3 LSB of slack.
"""
import math

import numpy as np
import pytest
import torch

from emulator.bss2.spiking import Q
from hil.torch import spiking
from hil.torch.spiking import chip as mapping

DT = 2e-6
STEP_NS = 500
TAU = 10e-6
SLACK = 1e-3


def exact_lif(jumps: dict[int, float], steps: int, dt=DT, step_ns=STEP_NS, leak=80.0, reset=80.0, threshold=125.0,
              tau=TAU, refractory_s=2e-6):
    """One neuron of the ideal chip in float64: (membrane at every emulator grid point, spike
    times in ns). ``jumps``: step of dt -> signed current jump (LSB) at that step's time."""
    h = step_ns * 1e-9
    per = round(dt / h)
    pm = math.exp(-h / tau)
    pe = h / tau * pm                      # equal time constants: the current's share after one step
    v, i, hold, trace, spikes = leak, 0.0, 0, [], []
    for k in range(steps * per):
        if k % per == 0:
            i += jumps.get(k // per, 0.0)
        trace.append(v)
        free = hold == 0
        v = leak + (v - leak) * pm + i * pe if free else reset
        hold = hold if free else hold - 1
        i *= pm
        if free and v >= threshold:
            spikes.append((k + 1) * step_ns)
            v, hold = reset, round(refractory_s / h)
    return np.array(trace), spikes


def on_dt_grid(trace: np.ndarray, dt=DT, step_ns=STEP_NS) -> np.ndarray:
    return trace[::round(dt / (step_ns * 1e-9))]


def experiment(chip, **options):
    return spiking.Experiment(dt=DT, backend=chip, step_ns=STEP_NS, **options)


def pair(exp, weights, readout=False, **neuron):
    weights = torch.as_tensor(weights, dtype=torch.float32)
    syn = spiking.Synapse(weights.shape[1], weights.shape[0], exp)
    with torch.no_grad():
        syn.weight.copy_(weights)
    lif = (spiking.ReadoutNeuron if readout else spiking.Neuron)(weights.shape[0], exp, **neuron)
    return syn, lif


def assert_floor_of(trace: torch.Tensor, exact: np.ndarray):
    gap = exact - trace.detach().double().numpy()
    assert gap.min() >= -SLACK and gap.max() < 1 + SLACK, f"chip - exact off by {gap.min():.4f}..{gap.max():.4f}"


def test_the_cadc_period_follows_dt():
    assert spiking.Experiment(dt=2e-6).cadc_period == 250            # one sample per step, on the grid
    assert spiking.Experiment(dt=1e-6).cadc_period == 213            # the CADC's fastest, interpolated


def test_excitatory_and_inhibitory_psps_are_the_exact_lif_floored(ideal_chip):
    exp = experiment(ideal_chip)
    syn, lif = pair(exp, [[50.0, -30.0]])
    x = torch.zeros(25, 1, 2)
    x[8, 0, 0] = x[14, 0, 0] = x[2, 0, 1] = 1
    z = lif(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 25)
    trace, spikes = exact_lif({8: Q * 50, 14: Q * 50, 2: -Q * 30}, 25)
    assert not spikes and z.spikes.sum() == 0
    assert_floor_of(z.membrane_cadc[:, 0, 0], on_dt_grid(trace))
    assert z.membrane_cadc.detach().min() < 79 and z.membrane_cadc.detach().max() > 95


def test_spikes_and_resets_are_the_exact_lifs(ideal_chip):
    """A strong input every 4 steps: the chip's spikes fall on the steps ``ceil(stamp / dt)`` of
    the exact LIF's spike times, and its trace shows the resets and the refractory holds."""
    exp = experiment(ideal_chip)
    syn, lif = pair(exp, [[63.0]])
    x = torch.zeros(30, 1, 1)
    x[1::4] = 1
    z = lif(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 30)
    trace, stamps = exact_lif({t: Q * 63 for t in range(1, 30, 4)}, 30)
    expected = sorted({math.ceil(s * 1e-9 / DT - 1e-9) for s in stamps if s * 1e-9 < 30 * DT})
    assert len(expected) >= 3
    assert torch.nonzero(z.spikes[:, 0, 0]).flatten().tolist() == expected
    assert_floor_of(z.membrane_cadc[:, 0, 0], on_dt_grid(trace))


def test_the_chip_and_the_mock_differ_by_the_euler_error_and_the_cadc_floor(ideal_chip):
    """One input of weight 40 (scale 1 / Q: a current jump of 40 LSB on the chip). The mock's
    Euler PSP is ``a w n (1 - a)**(n - 1)``, the exact LIF's ``w (n a) exp(-n a)`` (a = dt / tau =
    0.2), so at each step the chip lies within |Euler - exact| + 1 LSB of the mock. The Euler error
    itself is up to 2.2 LSB here, and a trace one step early or late would be off by up to 6.5 LSB:
    the test also says that the chip and the model are on the same grid."""
    w, t0, a = 40.0, 3, DT / TAU
    x = torch.zeros(30, 1, 1)
    x[t0] = 1
    traces = []
    for mock in (True, False):
        exp = spiking.Experiment(dt=DT, mock=mock, backend=ideal_chip, step_ns=STEP_NS)
        syn = spiking.Synapse(1, 1, exp, transform=lambda weight: weight / Q)
        lif = spiking.Neuron(1, exp)
        with torch.no_grad():
            syn.weight.fill_(w)
        z = lif(syn(spiking.NeuronHandle(x)))
        spiking.run(exp, 30)
        traces.append(z.membrane_cadc[:, 0, 0].detach().double().numpy())
    n = np.arange(30) - t0
    euler = np.where(n >= 1, a * w * n * (1 - a) ** np.maximum(n - 1, 0), 0.0)
    exact = np.where(n >= 1, w * n * a * np.exp(-n * a), 0.0)
    assert np.abs(euler - exact).max() == pytest.approx(2.19, abs=0.01)
    assert np.all(np.abs(traces[1] - traces[0]) <= np.abs(euler - exact) + 1 + SLACK)


def test_every_input_has_its_own_driver_and_neurons_reach_hemisphere_1(ideal_chip):
    """128 inputs onto 300 neurons (columns 256..299 are hemisphere 1): neuron j listens to input
    j % 128 only, with weight 1 + (j % 63); every input spikes once, at step 1, so each neuron's
    trace is the PSP of its own weight: any shared or lost driver would show."""
    j = np.arange(300)
    W = np.zeros((300, 128), np.float32)
    W[j, j % 128] = 1 + j % 63
    exp = experiment(ideal_chip)
    syn, lif = pair(exp, W)
    x = torch.zeros(8, 1, 128)
    x[1] = 1
    z = lif(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 8)
    t = (np.arange(8) - 1) * DT
    psp = np.where(t > 0, (t / TAU) * np.exp(-t / TAU), 0.0)
    exact = 80 + Q * (1 + j % 63)[None, :] * psp[:, None]
    gap = exact - z.membrane_cadc[:, 0, :].detach().double().numpy()
    assert gap.min() >= -SLACK and gap.max() < 1 + SLACK


def test_batch_entries_are_trials_and_events_sit_on_their_cycles(recorder):
    """Batch entry b spikes at step 2 + 2b: one run of 3 trials, each event at cycle
    round(t * dt / 8 ns) with input 0's label; the chip's trace of entry b is entry 0's moved by 2b steps."""
    exp = experiment(recorder)
    syn, lif = pair(exp, [[40.0]])
    x = torch.zeros(20, 3, 1)
    for b in range(3):
        x[2 + 2 * b, b] = 1
    z = lif(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 20)
    (stimulus,) = recorder.stimuli
    assert stimulus.n_trials == 3
    assert stimulus.trials.tolist() == [0, 1, 2]
    assert stimulus.times.tolist() == [round((2 + 2 * b) * DT / 8e-9) for b in range(3)] == [500, 1000, 1500]
    assert stimulus.labels.tolist() == [int(mapping.input_label(0))] * 3
    config = recorder.configs[0]
    assert config.row_mode[0, :3].tolist() == [1, 2, 0] and config.weights[0, 0, 0] == 40
    m = z.membrane_cadc[:, :, 0].detach()
    for b in (1, 2):
        assert torch.equal(m[2 * b:, b], m[:20 - 2 * b, 0])


def test_a_batch_too_large_for_one_run_is_split_into_runs():
    counts = np.zeros((4, 50, 2), np.int64)
    counts[1, :, 0] = 1
    counts[2, 49, 1] = 2
    runs = mapping.stimuli(counts, dt=1e-6, duration=12500, step_ns=1, cadc_period=213, record_cadc=True,
                           madc_neuron=-1)
    per_run = (1 << 22) // 100000          # 100 us in 1-ns steps
    assert [b0 for b0, _ in runs] == [0, per_run] and runs[0][1].n_trials == per_run
    last = runs[1][1]
    assert last.n_trials == 50 - per_run and last.times.size == 50 - per_run + 2
    assert last.trials[-2:].tolist() == [49 - per_run] * 2 and last.labels[-1] == mapping.input_label(1)


def test_the_trace_options_offset_scale_and_shift_the_chips_trace(ideal_chip):
    """Four layers on the same input (on four identical ideal neurons): the raw trace A, and
    (A[t + 1] - 80) / 2, A[t] - A[0] (shift to first), A[t - 1] (A[0] before the start)."""
    exp = experiment(ideal_chip)
    x = torch.zeros(15, 1, 1)
    x[3] = 1
    options = [{}, dict(trace_offset=80.0, trace_scale=0.5, cadc_time_shift=1),
               dict(shift_cadc_to_first=True, trace_offset=1000.0), dict(cadc_time_shift=-1)]
    outs = []
    for opts in options:
        syn, lif = pair(exp, [[50.0]], **opts)
        outs.append(lif(syn(spiking.NeuronHandle(x))))
    spiking.run(exp, 15)
    a, b, c, d = (o.membrane_cadc[:, 0, 0].detach() for o in outs)
    assert a.max() > 90
    assert torch.equal(b[:-1], (a[1:] - 80) * 0.5)
    assert torch.equal(c, a - a[0])
    assert torch.equal(d[1:], a[:-1]) and d[0] == a[0]


def test_the_madc_trace_is_the_exact_lif_on_its_34_ns_grid(ideal_chip):
    """The ideal MADC reads floor(4 V) every 34 ns of the grid point at or before: in CADC LSB
    within (V - 1/4, V]; samples cover the run's window (steps x dt)."""
    exp = spiking.Experiment(dt=DT, backend=ideal_chip, step_ns=100)
    syn, lif = pair(exp, [[0.0], [50.0]], enable_madc_recording=True, record_neuron_id=1)
    x = torch.zeros(10, 1, 1)
    x[2] = 1
    z = lif(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 10)
    samples = math.ceil(10 * DT / 34e-9)
    assert z.membrane_madc.shape == (samples, 1, 1)
    torch.testing.assert_close(z.madc_times, torch.arange(samples, dtype=torch.float64) * 34e-9)
    trace, _ = exact_lif({2: Q * 50}, 10, step_ns=100)
    v = trace[(np.arange(samples) * 34) // 100]
    gap = v - z.membrane_madc[:, 0, 0].double().numpy()
    assert gap.min() >= -SLACK and gap.max() < 0.25 + SLACK and v.max() > 90


def mock_readout(x, weights):
    """(membrane, weight parameter) of a mock leaky-integrator layer."""
    exp = spiking.Experiment(dt=DT, mock=True)
    syn, li = pair(exp, weights, readout=True)
    y = li(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, x.shape[0])
    return y.membrane_cadc, syn.weight


def test_the_in_the_loop_gradient_is_the_models_at_the_chips_values(ideal_chip):
    """A leaky integrator is linear in its weights, so d membrane / d weight is the same in the
    model and in the loop; only the residual differs: the loop's gradient of the MSE must be
    the model's Jacobian applied to 2 (chip - target) / N, and differ from the mock's."""
    x = (torch.rand(20, 2, 6, generator=torch.Generator().manual_seed(3)) < 0.3).float()
    target = 80 + 10 * torch.sin(torch.linspace(0, 3, 20))[:, None, None].expand(20, 2, 3)
    weights = torch.randn(3, 6, generator=torch.Generator().manual_seed(4)) * 20
    exp = experiment(ideal_chip)
    syn, li = pair(exp, weights, readout=True)
    y = li(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 20)
    torch.nn.functional.mse_loss(y.membrane_cadc, target).backward()
    chip = y.membrane_cadc.detach()
    assert torch.all(chip == torch.floor(chip)) and chip.max() > 85     # forward: the chip's codes
    membrane, weight = mock_readout(x, weights)
    (expected,) = torch.autograd.grad(membrane, weight, 2 * (chip - target) / target.numel())
    torch.testing.assert_close(syn.weight.grad, expected, rtol=1e-4, atol=1e-6)
    membrane, weight = mock_readout(x, weights)
    (mock,) = torch.autograd.grad(torch.nn.functional.mse_loss(membrane, target), weight)
    assert not torch.allclose(syn.weight.grad, mock, rtol=1e-2)


def test_two_spiking_layers_run_layer_by_layer_with_gradients(recorder):
    """The hidden layer's recorded spikes are the readout layer's events (at their steps' cycles,
    labelled by hidden neuron), on chip neurons of their own; the gradient reaches both weights."""
    exp = experiment(recorder)
    syn1, lif1 = pair(exp, [[63.0, 0.0], [0.0, 63.0], [40.0, 40.0]])
    syn2, li = pair(exp, [[20.0, -10.0, 5.0]], readout=True)
    x = torch.zeros(20, 2, 2)
    x[1::3, 0, 0] = 1
    x[2::2, 1, 1] = 1
    hidden = lif1(syn1(spiking.NeuronHandle(x)))
    y = li(syn2(hidden))
    spiking.run(exp, 20)
    assert len(recorder.stimuli) == 2
    z = hidden.spikes.detach()
    assert z.sum() >= 4 and set(z.unique().tolist()) <= {0.0, 1.0}
    t, b, k = torch.nonzero(z, as_tuple=True)
    second = recorder.stimuli[1]
    events = sorted(zip(second.trials.tolist(), second.times.tolist(), second.labels.tolist()))
    assert events == sorted(zip(b.tolist(), [round(s * DT / 8e-9) for s in t.tolist()],
                                mapping.input_label(k.numpy()).tolist()))
    first, readout = (c.weights for c in recorder.configs)
    assert first[0, :6, :3].any() and not first[0, :, 3:].any()      # hidden: columns 0..2
    assert readout[0, :6, 3].any() and not readout[0, :, :3].any()   # readout: column 3
    y.membrane_cadc.sum().backward()
    for syn in (syn1, syn2):
        assert torch.isfinite(syn.weight.grad).all() and syn.weight.grad.abs().sum() > 0


def test_recording_off_leaves_the_handle_empty_and_the_cadc_unread(recorder):
    exp = experiment(recorder)
    syn, lif = pair(exp, [[63.0]], enable_spike_recording=False, enable_cadc_recording=False)
    x = torch.zeros(10, 1, 1)
    x[1] = 1
    z = lif(syn(spiking.NeuronHandle(x)))
    spiking.run(exp, 10)
    assert z.spikes is None and z.membrane_cadc is None and z.current.shape == (10, 1, 1)
    assert not recorder.stimuli[0].record_cadc and recorder.stimuli[0].duration == round(10 * DT / 8e-9)


def test_cadc_samples_are_interpolated_linearly_onto_the_grid():
    """Samples every 213 cycles (1.704 us) onto a 1 us grid: a grid point on a sample takes it,
    one between two samples their linear interpolation by its time."""
    from hil.bss2 import SpikingReadout

    codes = np.zeros((2, 4, 512), np.uint8)
    codes[0, :, 7] = [10, 20, 40, 40]
    codes[1, :, 7] = [0, 100, 0, 255]
    readout = SpikingReadout(spike_times=[], spike_neurons=[], spike_trials=[], cadc_times=np.arange(4) * 213,
                             cadc=codes, madc=np.zeros((2, 0)))
    query = np.array([0.0, 1e-6, 1.704e-6, 2e-6, 4.5e-6])
    got = mapping.cadc_to_grid(readout, np.array([7]), query)
    assert got.shape == (5, 2, 1)
    f = np.array([0.0, 1 / 1.704, 0.0, (2 - 1.704) / 1.704, (4.5 - 3.408) / 1.704])
    expected = np.stack([[10 + 10 * f[0], 10 + 10 * f[1], 20, 20 + 20 * f[3], 40],
                         [100 * f[0], 100 * f[1], 100, 100 - 100 * f[3], 255 * f[4]]], axis=1)
    np.testing.assert_allclose(got[:, :, 0].numpy(), expected, rtol=1e-6)
