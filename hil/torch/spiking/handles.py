"""Handles: what a layer returns when it is called, filled when the experiment runs.

Calling a layer records it in its experiment and returns a handle, a promise of data:
:func:`hil.torch.spiking.run` fills it. All time series are on the experiment's dense
grid of step ``dt``, shaped (time, batch, neurons), except the MADC trace, which keeps
the MADC's own grid (below).
"""
import torch


class NeuronHandle:
    """A population's data: the input of a :class:`~hil.torch.spiking.Synapse`, or what a
    :class:`~hil.torch.spiking.Neuron` or :class:`~hil.torch.spiking.ReadoutNeuron` recorded.

    ``NeuronHandle(spikes)`` wraps input spikes: a (time, batch, neurons) tensor of spike
    counts per step (whole numbers 0..255; 1 is one spike), time being the run's steps.
    """

    def __init__(self, spikes: torch.Tensor | None = None, membrane_cadc: torch.Tensor | None = None,
                 membrane_madc: torch.Tensor | None = None, current: torch.Tensor | None = None):
        self.spikes = spikes
        """(time, batch, neurons) spike counts per step: the chip's recorded spikes (the FPGA's
        time stamp of each, rounded up to the grid: a spike between steps t - 1 and t is at t),
        or the model's. None for a readout neuron, and in the loop if spike recording is off."""
        self.membrane_cadc = membrane_cadc
        """(time, batch, neurons) membrane: the chip's CADC samples on the grid, as
        ``(code - trace_offset) * trace_scale``, or the model's membrane in mock mode. None
        in the loop if CADC recording is off."""
        self.membrane_madc = membrane_madc
        """(samples, batch, 1) the MADC trace of the layer's ``record_neuron_id``, in the
        loop only: sample m at ``m * 34 ns`` (``madc_times``), converted to CADC LSB by the
        nominal MADC gain (4 codes per LSB) and then offset and scaled as the CADC trace."""
        self.madc_times: torch.Tensor | None = None
        """(samples,) float64 seconds of the MADC samples."""
        self.current = current
        """(time, batch, neurons) the model's synaptic current (the chip does not record it)."""
        self._node = None   # the layer call that fills this handle (None: given by the user)

    def __repr__(self) -> str:
        shapes = {k: None if v is None else tuple(v.shape) for k, v in
                  (("spikes", self.spikes), ("membrane_cadc", self.membrane_cadc),
                   ("membrane_madc", self.membrane_madc), ("current", self.current))}
        return f"NeuronHandle({', '.join(f'{k}={v}' for k, v in shapes.items())})"


class SynapseHandle:
    """What a :class:`~hil.torch.spiking.Synapse` passes on: the graded input of the next
    neuron layer, ``spikes @ weight.T`` (time, batch, out_features), in model units."""

    def __init__(self, graded_spikes: torch.Tensor | None = None):
        self.graded_spikes = graded_spikes
        self._node = None

    def __repr__(self) -> str:
        shape = None if self.graded_spikes is None else tuple(self.graded_spikes.shape)
        return f"SynapseHandle(graded_spikes={shape})"
