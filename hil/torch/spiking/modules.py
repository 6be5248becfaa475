"""The layers: :class:`Synapse`, :class:`Neuron` (LIF) and :class:`ReadoutNeuron` (leaky integrator).

Each is a ``torch.nn.Module`` of an :class:`~hil.torch.spiking.Experiment`: calling it
records the call and returns a handle that :func:`~hil.torch.spiking.run` fills. A
Synapse takes a :class:`NeuronHandle` with spikes and passes its graded input on to one
neuron layer; a neuron layer takes that :class:`SynapseHandle`.

Neuron parameters are the chip's power-on values by default, so a default layer means
the same in the model and on the chip: leak 80, reset 80, threshold 125 (CADC LSB),
membrane and synaptic time constants 10 us, refractory time 2 us. A plain number holds
for both; :class:`~hil.torch.spiking.MixedHXModelParameter` gives the model its own value.
"""
import math
from typing import Callable

import numpy as np
import torch

from emulator.bss2 import geometry as g

from ...contract import validation
from ...contract.errors import InvalidValue
from ..perceptron.operands import rounded
from . import chip
from .experiment import Context, Experiment, Node
from .functional import SUPERSPIKE_ALPHA, ModelParameters, li_integration, lif_integration
from .handles import NeuronHandle, SynapseHandle
from .parameters import (capmem_levels, per_neuron, positive, refractory_cycles, refractory_steps, split,
                         stable_time_constant)
from .transforms import HARDWARE_WEIGHT_MAX, linear_saturating

TIME_SHIFT_MAX = 1000
"""Largest |cadc_time_shift|, steps of dt."""


class _Layer(torch.nn.Module):
    def __init__(self, experiment: Experiment):
        super().__init__()
        if not isinstance(experiment, Experiment):
            raise InvalidValue("experiment", f"{experiment!r} is not a hil.torch.spiking.Experiment")
        self.experiment = experiment


class Synapse(_Layer):
    """A dense projection of ``in_features`` inputs onto ``out_features`` neurons.

    ``weight`` is an ``nn.Parameter`` (out_features, in_features) in model units (the
    current jump a spike adds in the model), drawn from N(0, 1 / in_features) (the fan-in
    scaling of torch's layers, sized for a model whose threshold lies about 1 above its
    leak, as in the seed's training). The model computes ``spikes @ weight.T``; the chip
    gets ``round(transform(weight))``, which must lie in -63..63 (``transform`` defaults
    to :func:`~hil.torch.spiking.transforms.linear_saturating` at scale 1). In the loop
    a layer takes at most 128 inputs (one synapse driver each).
    """

    def __init__(self, in_features: int, out_features: int, experiment: Experiment,
                 transform: Callable[[torch.Tensor], torch.Tensor] = linear_saturating):
        super().__init__(experiment)
        self.in_features = validation.integer("in_features", in_features, lo=1, hi=1 << 20)
        self.out_features = validation.integer("out_features", out_features, lo=1, hi=1 << 20)
        if not callable(transform):
            raise InvalidValue("transform", f"{transform!r} is not callable")
        self.transform = transform
        self.weight = torch.nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.reset_parameters()

    def reset_parameters(self, mean: float = 0.0, std: float | None = None) -> None:
        """Draws the weights from N(mean, std**2); std defaults to 1 / sqrt(in_features)."""
        with torch.no_grad():
            self.weight.normal_(mean, 1.0 / math.sqrt(self.in_features) if std is None else std)

    def hardware_weight(self) -> np.ndarray:
        """(out_features, in_features) int64: ``round(transform(weight))``, refused outside -63..63."""
        with torch.no_grad():
            w = self.transform(self.weight.detach())
        if not isinstance(w, torch.Tensor) or tuple(w.shape) != tuple(self.weight.shape):
            raise InvalidValue("transform(weight)", f"is {type(w).__name__} of shape {tuple(getattr(w, 'shape', ()))}; "
                                                    f"expected a tensor of shape {tuple(self.weight.shape)}")
        return rounded("transform(weight)", w, -HARDWARE_WEIGHT_MAX, HARDWARE_WEIGHT_MAX).to(torch.int64).numpy()

    def forward(self, input: NeuronHandle) -> SynapseHandle:
        if not isinstance(input, NeuronHandle):
            raise InvalidValue("input", f"{type(input).__name__} is not a NeuronHandle (a Synapse takes spikes)")
        if input._node is None or input.spikes is not None:
            _check_spike_tensor("input.spikes", input.spikes, self.in_features)
        else:
            source = input._node.module
            if isinstance(source, ReadoutNeuron):
                raise InvalidValue("input", "comes from a ReadoutNeuron, which does not spike")
            if source.size != self.in_features:
                raise InvalidValue("input", f"comes from a layer of {source.size} neurons; this Synapse has "
                                            f"in_features={self.in_features}")
        output = SynapseHandle()
        self.experiment.connect(self, input, output)
        return output

    def _check(self, node: Node, ctx: Context) -> None:
        source = ctx.producer(node.input)
        if source is None:
            spikes = node.input.spikes
            if spikes is None:
                raise InvalidValue("input.spikes", "is None: the layer that was to fill it is not part of this run")
            if spikes.shape[0] != ctx.runtime:
                raise InvalidValue("input.spikes", f"has {spikes.shape[0]} time steps; the run has runtime "
                                                   f"{ctx.runtime}; they must be equal")
            ctx.check_batch("input.spikes", spikes.shape[1])
            chip.spike_counts("input.spikes", spikes)
        elif not ctx.mock and not source.module.enable_spike_recording:
            raise InvalidValue("input", "comes from a Neuron with enable_spike_recording=False; in the loop a "
                                        "layer's recorded spikes are the next layer's input events")
        if ctx.mock:
            return
        if self.in_features > chip.INPUTS_MAX:
            raise InvalidValue("in_features", f"{self.in_features} inputs; in the loop a Synapse takes at most "
                                              f"{chip.INPUTS_MAX} (one synapse driver each)")
        users = ctx.consumers(node)
        if len(users) != 1:
            raise InvalidValue("Synapse", f"its output feeds {len(users)} neuron layers in this run; in the loop "
                                          f"each Synapse feeds exactly one (its synapses are that layer's)")
        node.data["weights"] = self.hardware_weight()

    def _execute(self, node: Node, ctx: Context) -> None:
        spikes = node.input.spikes
        if not ctx.mock:
            node.data["counts"] = chip.spike_counts("input.spikes", spikes)
        node.output.graded_spikes = torch.matmul(spikes.to(self.weight.dtype), self.weight.t())

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, mock={self.experiment.mock}"


def _check_spike_tensor(field: str, spikes, features: int) -> None:
    if not isinstance(spikes, torch.Tensor):
        raise InvalidValue(field, f"is {type(spikes).__name__}; expected a (time, batch, {features}) tensor of spikes")
    if spikes.dim() != 3 or spikes.shape[2] != features or spikes.shape[0] < 1 or spikes.shape[1] < 1:
        raise InvalidValue(field, f"has shape {tuple(spikes.shape)}; expected (time, batch, {features}), "
                                  f"time and batch at least 1")


class _Population(_Layer):
    """What both neuron layers share: parameters, recording options, the run on the chip."""

    def _setup(self, size, experiment, leak, tau_mem, tau_syn, enable_cadc_recording, enable_madc_recording,
               record_neuron_id, cadc_time_shift, shift_cadc_to_first, trace_offset, trace_scale) -> None:
        self.size = validation.integer("size", size, lo=1, hi=g.NEURONS)
        for name, flag in (("enable_cadc_recording", enable_cadc_recording),
                           ("enable_madc_recording", enable_madc_recording),
                           ("shift_cadc_to_first", shift_cadc_to_first)):
            if not isinstance(flag, bool):
                raise InvalidValue(name, f"{flag!r} is not a bool")
        self.enable_cadc_recording = enable_cadc_recording
        self.enable_madc_recording = enable_madc_recording
        if record_neuron_id is not None:
            record_neuron_id = validation.integer("record_neuron_id", record_neuron_id, lo=0, hi=self.size - 1)
        elif enable_madc_recording:
            raise InvalidValue("record_neuron_id", f"is None; the MADC records one neuron: give its index "
                                                   f"0..{self.size - 1} in this layer")
        self.record_neuron_id = record_neuron_id
        self.cadc_time_shift = validation.integer("cadc_time_shift", cadc_time_shift, lo=-TIME_SHIFT_MAX,
                                                  hi=TIME_SHIFT_MAX)
        self.shift_cadc_to_first = shift_cadc_to_first
        self.trace_offset = per_neuron("trace_offset", trace_offset, self.size).to(torch.float32)
        self.trace_scale = per_neuron("trace_scale", trace_scale, self.size).to(torch.float32)
        dt = experiment.dt
        model, hardware = {}, {}
        for name, value in (("leak", leak), ("tau_mem", tau_mem), ("tau_syn", tau_syn)):
            m, h = split(value)
            model[name], hardware[name] = per_neuron(name, m, self.size), per_neuron(name, h, self.size)
        for name in ("tau_mem", "tau_syn"):
            stable_time_constant(name, model[name], dt)
            positive(name, hardware[name])
        self._model = model
        self._cells = {"leak": capmem_levels("leak", "leak", hardware["leak"]),
                       "tau_mem": capmem_levels("tau_mem", "tau_mem", hardware["tau_mem"])}
        self._cells["tau_syn_exc"] = capmem_levels("tau_syn", "tau_syn_exc", hardware["tau_syn"])
        self._cells["tau_syn_inh"] = self._cells["tau_syn_exc"]
        self._hardware = hardware

    def forward(self, input: SynapseHandle) -> NeuronHandle:
        if not isinstance(input, SynapseHandle):
            raise InvalidValue("input", f"{type(input).__name__} is not a SynapseHandle (a neuron layer takes the "
                                        f"output of a Synapse)")
        source = None if input._node is None else input._node.module
        if not isinstance(source, Synapse) or source.experiment is not self.experiment:
            raise InvalidValue("input", "is not the output of a Synapse of this experiment")
        if source.out_features != self.size:
            raise InvalidValue("input", f"has {source.out_features} features; this layer has size {self.size}")
        output = NeuronHandle()
        self.experiment.connect(self, input, output)
        return output

    def _check(self, node: Node, ctx: Context) -> None:
        if ctx.producer(node.input) is None:
            raise InvalidValue("input", "comes from a Synapse call that is not part of this run")
        if ctx.mock:
            return
        node.data["columns"] = np.asarray(ctx.place(self.size), np.int64)
        exp = ctx.experiment
        cycles = chip.duration_cycles(ctx.runtime, ctx.dt, exp.cadc_period, self.enable_cadc_recording,
                                      self.cadc_time_shift)
        if cycles > g.SPIKING_DURATION_MAX:
            raise InvalidValue("runtime", f"{ctx.runtime} steps of dt = {ctx.dt:g} s need a run of {cycles} cycles "
                                          f"({cycles * g.FPGA_CYCLE_S * 1e3:g} ms with the CADC's last sample); "
                                          f"the chip runs at most {g.SPIKING_DURATION_MAX} cycles (10 ms) a run")

    def _post_process(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw CADC codes (time, batch, n) to the layer's units: ``(raw - offset) * trace_scale``,
        the offset being each trace's first value with ``shift_cadc_to_first``, else ``trace_offset``."""
        offset = raw[:1] if self.shift_cadc_to_first else self.trace_offset
        return (raw - offset) * self.trace_scale

    def _run_on_chip(self, node: Node, ctx: Context) -> dict:
        synapse = ctx.producer(node.input)
        columns = node.data["columns"]
        madc_neuron = int(columns[self.record_neuron_id]) if self.enable_madc_recording else -1
        exp = ctx.experiment
        hw = chip.run_layer(ctx.device, synapse.data["weights"], synapse.data["counts"], columns, self._cells,
                            self._refractory, ctx.dt, exp.step_ns, exp.cadc_period, self.enable_cadc_recording,
                            madc_neuron, self.cadc_time_shift)
        if hw["cadc"] is not None:
            hw["cadc"] = self._post_process(hw["cadc"])
        if hw["madc"] is not None:
            raw = hw["madc"].unsqueeze(-1) / chip.MADC_CODES_PER_LSB
            k = self.record_neuron_id
            offset = raw[:1] if self.shift_cadc_to_first else self.trace_offset[k]
            hw["madc"] = (raw - offset) * self.trace_scale[k]
        return hw

    def _fill_recordings(self, out: NeuronHandle, hw: dict) -> None:
        out.membrane_madc = hw["madc"]
        out.madc_times = hw["madc_times"]


class Neuron(_Population):
    """A population of ``size`` current-based LIF neurons (docs/torch.md#spiking).

    leak, reset, threshold: CADC LSB on the chip (each -42.7..298, the CapMem cells'
    range); tau_mem, tau_syn: s (on the chip 1.96 us .. 2 ms; in the model at least
    dt); refractory_time: s (on the chip 0..32.8 us, whole FPGA cycles; in the model
    whole steps of dt). Each a number, one per neuron, or a MixedHXModelParameter.

    Recording (in the loop): spikes, the CADC (every neuron) and the MADC (the neuron
    ``record_neuron_id`` of this layer). The CADC trace on the grid is ``(code -
    trace_offset) * trace_scale`` (``shift_cadc_to_first``: each trace's first value is
    the offset), read ``cadc_time_shift`` steps later (positive: later samples to earlier
    steps, as in hxtorch). alpha: steepness of the SuperSpike surrogate.
    """

    def __init__(self, size: int, experiment: Experiment, leak=80.0, reset=80.0, threshold=125.0, tau_mem=10e-6,
                 tau_syn=10e-6, refractory_time=2e-6, enable_cadc_recording: bool = True,
                 enable_madc_recording: bool = False, enable_spike_recording: bool = True,
                 record_neuron_id: int | None = None, cadc_time_shift: int = 0, shift_cadc_to_first: bool = False,
                 trace_offset=0.0, trace_scale=1.0, alpha: float = SUPERSPIKE_ALPHA):
        super().__init__(experiment)
        self._setup(size, experiment, leak, tau_mem, tau_syn, enable_cadc_recording, enable_madc_recording,
                    record_neuron_id, cadc_time_shift, shift_cadc_to_first, trace_offset, trace_scale)
        if not isinstance(enable_spike_recording, bool):
            raise InvalidValue("enable_spike_recording", f"{enable_spike_recording!r} is not a bool")
        self.enable_spike_recording = enable_spike_recording
        self.alpha = validation.real("alpha", alpha, lo=1e-6, hi=1e6)
        for name, value in (("reset", reset), ("threshold", threshold), ("refractory_time", refractory_time)):
            m, h = split(value)
            self._model[name], self._hardware[name] = per_neuron(name, m, self.size), per_neuron(name, h, self.size)
        for side, values in (("model", self._model), ("hardware", self._hardware)):
            bad = torch.nonzero(values["refractory_time"] < 0)
            if bad.numel():
                k = int(bad[0])
                raise InvalidValue(f"refractory_time[{k}]", f"{side} value {values['refractory_time'][k].item():g} s "
                                                            f"is negative")
        self._cells["reset"] = capmem_levels("reset", "reset", self._hardware["reset"])
        self._cells["threshold"] = capmem_levels("threshold", "threshold", self._hardware["threshold"])
        self._refractory = refractory_cycles("refractory_time", self._hardware["refractory_time"])
        m = self._model
        self.params = ModelParameters(
            leak=m["leak"].float(), reset=m["reset"].float(), threshold=m["threshold"].float(),
            tau_mem=m["tau_mem"].float(), tau_syn=m["tau_syn"].float(),
            refractory_steps=refractory_steps(m["refractory_time"], experiment.dt), alpha=self.alpha)
        """The model's parameters (:class:`hil.torch.spiking.functional.ModelParameters`)."""

    def _execute(self, node: Node, ctx: Context) -> None:
        graded, out = node.input.graded_spikes, node.output
        if ctx.mock:
            out.spikes, out.membrane_cadc, out.current = lif_integration(graded, self.params, ctx.dt)
            return
        hw = self._run_on_chip(node, ctx)
        spikes, membrane, out.current = lif_integration(graded, self.params, ctx.dt, hw["spikes"], hw["cadc"])
        out.spikes = spikes if self.enable_spike_recording else None
        out.membrane_cadc = membrane if self.enable_cadc_recording else None
        self._fill_recordings(out, hw)

    def extra_repr(self) -> str:
        return f"size={self.size}, mock={self.experiment.mock}"


class ReadoutNeuron(_Population):
    """A population of ``size`` leaky integrators: the LIF without spikes (docs/torch.md#spiking).

    On the chip the neurons are LIF neurons whose threshold is out of reach: its CapMem
    cell at the top level 1022 (298 LSB nominal, above the CADC's 255), the reset at the
    leak. Parameters and recording as :class:`Neuron`'s (no spikes).
    """

    THRESHOLD_LEVEL = g.CAPMEM_LEVEL_MAX

    def __init__(self, size: int, experiment: Experiment, leak=80.0, tau_mem=10e-6, tau_syn=10e-6,
                 enable_cadc_recording: bool = True, enable_madc_recording: bool = False,
                 record_neuron_id: int | None = None, cadc_time_shift: int = 0, shift_cadc_to_first: bool = False,
                 trace_offset=0.0, trace_scale=1.0):
        super().__init__(experiment)
        self._setup(size, experiment, leak, tau_mem, tau_syn, enable_cadc_recording, enable_madc_recording,
                    record_neuron_id, cadc_time_shift, shift_cadc_to_first, trace_offset, trace_scale)
        self._cells["reset"] = self._cells["leak"]
        self._cells["threshold"] = np.full(self.size, self.THRESHOLD_LEVEL, np.int64)
        self._refractory = np.zeros(self.size, np.int64)
        m = self._model
        zeros = torch.zeros(self.size)
        self.params = ModelParameters(leak=m["leak"].float(), reset=m["leak"].float(), threshold=zeros,
                                      tau_mem=m["tau_mem"].float(), tau_syn=m["tau_syn"].float(),
                                      refractory_steps=zeros.to(torch.int64))
        """The model's parameters (threshold and refractory unused)."""

    def _execute(self, node: Node, ctx: Context) -> None:
        graded, out = node.input.graded_spikes, node.output
        if ctx.mock:
            out.membrane_cadc, out.current = li_integration(graded, self.params, ctx.dt)
            return
        hw = self._run_on_chip(node, ctx)
        membrane, out.current = li_integration(graded, self.params, ctx.dt, hw["cadc"])
        out.membrane_cadc = membrane if self.enable_cadc_recording else None
        self._fill_recordings(out, hw)

    def extra_repr(self) -> str:
        return f"size={self.size}, mock={self.experiment.mock}"
