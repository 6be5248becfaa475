"""Bad arguments raise hil.errors.InvalidValue naming the field, the value and what is allowed,
before anything runs on the chip."""
import pytest
import torch

import hil
from hil.errors import InvalidValue, Unsupported
from hil.torch import spiking


def refuse(field: str, *words: str):
    """Context: the call raises InvalidValue for ``field``, its message holding ``words``."""
    return _Refusal(field, words)


class _Refusal:
    def __init__(self, field, words):
        self.field, self.words, self._raises = field, words, pytest.raises(InvalidValue)

    def __enter__(self):
        self.info = self._raises.__enter__()
        return self.info

    def __exit__(self, *exc):
        suppressed = self._raises.__exit__(*exc)
        assert self.info.value.field == self.field, str(self.info.value)
        for w in self.words:
            assert w in str(self.info.value), str(self.info.value)
        return suppressed


@pytest.fixture
def exp():
    return spiking.Experiment(mock=True)


def test_experiment_options(exp):
    with refuse("dt", "allowed range"):
        spiking.Experiment(dt=0.0)
    with refuse("dt", "not a finite number"):
        spiking.Experiment(dt=float("nan"))
    with refuse("mock"):
        spiking.Experiment(mock="yes")
    with refuse("step_ns", "1..1000"):
        spiking.Experiment(step_ns=2000)
    with refuse("cadc_period", "213..65535"):
        spiking.Experiment(cadc_period=100)
    with refuse("backend", "not a hil.backend.Backend"):
        spiking.Experiment(backend="emulator")


def test_neuron_parameters_outside_what_the_chip_or_the_model_takes(exp):
    with refuse("threshold[0]", "400", "-42.6667..298"):
        spiking.Neuron(2, exp, threshold=400.0)
    with refuse("leak[1]", "-50"):
        spiking.Neuron(2, exp, leak=spiking.MixedHXModelParameter(0.0, [80.0, -50.0]))
    with refuse("reset[0]", "not a finite number"):
        spiking.Neuron(1, exp, reset=float("nan"))
    with refuse("tau_mem[0]", "below the experiment's dt", "dt / tau_mem <= 1"):
        spiking.Neuron(1, exp, tau_mem=spiking.MixedHXModelParameter(0.5e-6, 10e-6))
    with refuse("tau_syn[0]", "hardware value 1e-06", "1.95695e-06..0.002 s"):
        spiking.Neuron(1, exp, tau_syn=spiking.MixedHXModelParameter(10e-6, 1e-6))
    with refuse("refractory_time[0]", "4e-05", "0..4095 cycles"):
        spiking.Neuron(1, exp, refractory_time=40e-6)
    with refuse("refractory_time[0]", "negative"):
        spiking.Neuron(1, exp, refractory_time=spiking.MixedHXModelParameter(-1e-6, 2e-6))
    with refuse("leak", "has shape (3,)", "(2,)"):
        spiking.Neuron(2, exp, leak=[80.0, 80.0, 80.0])
    with refuse("size", "1..512"):
        spiking.Neuron(513, exp)
    with refuse("record_neuron_id", "0..1"):
        spiking.Neuron(2, exp, enable_madc_recording=True)
    with refuse("record_neuron_id", "outside the allowed range 0..1"):
        spiking.Neuron(2, exp, record_neuron_id=2)
    with refuse("trace_scale[0]", "not a finite number"):
        spiking.ReadoutNeuron(1, exp, trace_scale=float("inf"))
    with refuse("experiment"):
        spiking.Neuron(1, "exp")


def test_spikes_of_the_wrong_shape_or_value(exp):
    syn = spiking.Synapse(3, 2, exp)
    with refuse("input.spikes", "(time, batch, 3)"):
        syn(spiking.NeuronHandle(torch.zeros(10, 1, 2)))
    with refuse("input", "not a NeuronHandle"):
        syn(torch.zeros(10, 1, 3))
    for bad, words in ((float("nan"), "nan"), (0.5, "0.5"), (-1.0, "-1"), (256.0, "0..255")):
        x = torch.zeros(10, 1, 3)
        x[4, 0, 2] = bad
        lif = spiking.Neuron(2, exp)
        lif(syn(spiking.NeuronHandle(x)))
        with refuse("input.spikes[4, 0, 2]", words, "spike count"):
            spiking.run(exp, 10)
    lif = spiking.Neuron(2, exp)
    lif(syn(spiking.NeuronHandle(torch.zeros(10, 1, 3))))
    with refuse("input.spikes", "10 time steps", "runtime 12"):
        spiking.run(exp, 12)
    syn2, lif2 = spiking.Synapse(3, 2, exp), spiking.Neuron(2, exp)
    lif(syn(spiking.NeuronHandle(torch.zeros(10, 1, 3))))
    lif2(syn2(spiking.NeuronHandle(torch.zeros(10, 2, 3))))
    with refuse("input.spikes", "batch 2", "have 1"):
        spiking.run(exp, 10)
    with refuse("runtime", "1..1048576"):
        spiking.run(exp, 0)


def test_the_graph_must_fit_the_api(exp):
    syn, li = spiking.Synapse(2, 2, exp), spiking.ReadoutNeuron(2, exp)
    y = li(syn(spiking.NeuronHandle(torch.zeros(5, 1, 2))))
    with refuse("input", "ReadoutNeuron", "does not spike"):
        spiking.Synapse(2, 1, exp)(y)
    with refuse("module", "already called"):
        syn(spiking.NeuronHandle(torch.zeros(5, 1, 2)))
    with refuse("input", "has 2 features", "size 3"):
        spiking.Neuron(3, exp)(spiking.Synapse(2, 2, exp)(spiking.NeuronHandle(torch.zeros(5, 1, 2))))
    g = spiking.Synapse(2, 2, exp)(spiking.NeuronHandle(torch.zeros(5, 1, 2)))
    with refuse("input", "not the output of a Synapse of this experiment"):
        spiking.Neuron(2, spiking.Experiment(mock=True))(g)
    with refuse("input", "not a SynapseHandle"):
        spiking.Neuron(2, exp)(spiking.NeuronHandle(torch.zeros(5, 1, 2)))
    with refuse("experiment", "not a hil.torch.spiking.Experiment"):
        spiking.run("exp", 5)


@pytest.fixture
def counted():
    """A non-ideal emulated chip (its run counter shows whether anything ran)."""
    with hil.backend.open("emulator") as chip:
        yield chip


def test_in_the_loop_limits_are_checked_before_the_chip_runs(counted):
    exp = spiking.Experiment(backend=counted)
    spiking.Neuron(2, exp)(spiking.Synapse(129, 2, exp)(spiking.NeuronHandle(torch.zeros(5, 1, 129))))
    with refuse("in_features", "129", "at most 128"):
        spiking.run(exp, 5)
    syn = spiking.Synapse(2, 2, exp, transform=lambda w: 100 * w)
    with torch.no_grad():
        syn.weight.fill_(1.0)
    spiking.Neuron(2, exp)(syn(spiking.NeuronHandle(torch.zeros(5, 1, 2))))
    with refuse("transform(weight)[0, 0]", "100", "-63..63"):
        spiking.run(exp, 5)
    for size in (300, 300):
        spiking.Neuron(size, exp)(spiking.Synapse(2, size, exp)(spiking.NeuronHandle(torch.zeros(5, 1, 2))))
    with refuse("experiment", "600 neurons", "512"):
        spiking.run(exp, 5)
    syn = spiking.Synapse(2, 2, exp)
    g = syn(spiking.NeuronHandle(torch.zeros(5, 1, 2)))
    spiking.Neuron(2, exp)(g)
    spiking.ReadoutNeuron(2, exp)(g)
    with refuse("Synapse", "feeds 2 neuron layers"):
        spiking.run(exp, 5)
    hidden = spiking.Neuron(2, exp, enable_spike_recording=False)
    z = hidden(spiking.Synapse(2, 2, exp)(spiking.NeuronHandle(torch.zeros(5, 1, 2))))
    spiking.ReadoutNeuron(1, exp)(spiking.Synapse(2, 1, exp)(z))
    with refuse("input", "enable_spike_recording=False"):
        spiking.run(exp, 5)
    spiking.Neuron(1, exp)(spiking.Synapse(1, 1, exp)(spiking.NeuronHandle(torch.zeros(20000, 1, 1))))
    with refuse("runtime", "20000 steps", "10 ms"):
        spiking.run(exp, 20000)          # 20 ms: over the chip's 10 ms a run
    assert counted.run_counter == 0


def test_a_device_without_the_spiking_mode_is_refused():
    with hil.backend.open("model") as mac_only:
        with pytest.raises(Unsupported, match="spiking"):
            spiking.init(mac_only)
        exp = spiking.Experiment(backend=mac_only)
        spiking.Neuron(1, exp)(spiking.Synapse(1, 1, exp)(spiking.NeuronHandle(torch.zeros(3, 1, 1))))
        with pytest.raises(Unsupported, match="spiking"):
            spiking.run(exp, 3)
