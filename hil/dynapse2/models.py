"""Closed-form models of the Dynap-SE2-like family's analog circuits (docs/dynapse2.md#models), the
references its experiments judge against: the DPI circuit's time constants and pulse widths, a DPI
synapse's response to one event and to a regular train, a neuron's (:class:`Neuron`) synaptic time
constants, event jumps, refractory period and f-I curve, the stated mismatch's bounds, and the routing
as a pure function (:func:`route`).

Currents in amperes, capacitances in farads, times in seconds."""
import dataclasses
import math

import numpy as np
from dataclasses import dataclass

from emulator.dynapse2 import geometry as g
from emulator.dynapse2.circuit import LAYOUT, NEURON_MISMATCH_SIGMA

from ..contract import validation
from ..contract.errors import InvalidValue


@dataclass(frozen=True)
class Layout:
    """The circuit's layout constants (seed 004's names; values as rockpool's ``default_layout``)."""

    C_mem: float = LAYOUT["C_mem"]
    """F: the membrane capacitance."""
    C_ampa: float = LAYOUT["C_ampa"]
    C_gaba: float = LAYOUT["C_gaba"]
    C_nmda: float = LAYOUT["C_nmda"]
    C_shunt: float = LAYOUT["C_shunt"]
    """F: the four synapse types' capacitances."""
    C_ahp: float = LAYOUT["C_ahp"]
    """F: the adaptation (AHP) capacitance."""
    C_pulse: float = LAYOUT["C_pulse"]
    C_pulse_ahp: float = LAYOUT["C_pulse_ahp"]
    C_ref: float = LAYOUT["C_ref"]
    """F: the pulse extender's, the AHP pulse's and the refractory circuit's capacitances."""
    Io: float = LAYOUT["Io"]
    """A: the transistors' leakage (dark) current, the smallest current a bias gives."""
    kappa_n: float = LAYOUT["kappa_n"]
    kappa_p: float = LAYOUT["kappa_p"]
    """Subthreshold slope factors of the n- and p-type transistors."""
    U_T: float = LAYOUT["U_T"]
    """V: the thermal voltage."""
    Vth: float = LAYOUT["Vth"]
    """V: the pulse circuits' switching voltage."""

    def __post_init__(self):
        for name, value in self.__dict__.items():
            validation.real(name, value, lo=1e-18, hi=10.0)

    @property
    def kappa(self) -> float:
        """The mean slope factor the DPI circuits see, (kappa_n + kappa_p) / 2 (as rockpool's DynapSim)."""
        return (self.kappa_n + self.kappa_p) / 2


DEFAULT_LAYOUT = Layout()


def _positive(name: str, value) -> float:
    v = validation.real(name, value, lo=0.0, hi=1.0)
    if v <= 0:
        raise InvalidValue(name, f"{value!r} is outside the allowed range: > 0 and <= 1")
    return float(v)


def time_constant(i_tau: float, capacitance: float, layout: Layout = DEFAULT_LAYOUT) -> float:
    """s: a DPI circuit's time constant ``C U_T / (kappa I_tau)`` for its leak current ``i_tau`` (A, > 0)."""
    return _positive("capacitance", capacitance) * layout.U_T / (layout.kappa * _positive("i_tau", i_tau))


def tau_current(tau: float, capacitance: float, layout: Layout = DEFAULT_LAYOUT) -> float:
    """A: the leak current that gives time constant ``tau`` (s, > 0): the inverse of :func:`time_constant`."""
    return _positive("capacitance", capacitance) * layout.U_T / (layout.kappa * _positive("tau", tau))


def pulse_width(i_pulse: float, capacitance: float, layout: Layout = DEFAULT_LAYOUT) -> float:
    """s: a pulse circuit's width ``Vth C / I_pulse`` (the pulse extender, the refractory period)."""
    return layout.Vth * _positive("capacitance", capacitance) / _positive("i_pulse", i_pulse)


@dataclass(frozen=True)
class DpiSynapse:
    """A DPI synapse (a log-domain low-pass filter): between events its current decays with
    ``tau = C U_T / (kappa I_tau)``; an event, a pulse of ``t_pulse`` seconds, adds
    ``(I_gain I_w / I_tau)(1 - exp(-t_pulse / tau))`` (seed 004's DynapSim equations)."""

    i_tau: float
    """A: the leak current."""
    i_gain: float
    """A: the gain current."""
    i_w: float
    """A: the weight current of the event (a sum of the base weights its CAM mask selects)."""
    capacitance: float = DEFAULT_LAYOUT.C_ampa
    t_pulse: float = 10e-6
    """s: the pulse extender's width (rockpool's default)."""
    layout: Layout = DEFAULT_LAYOUT

    def __post_init__(self):
        for name in ("i_tau", "i_gain", "i_w", "capacitance", "t_pulse"):
            _positive(name, getattr(self, name))

    @property
    def tau(self) -> float:
        return time_constant(self.i_tau, self.capacitance, self.layout)

    @property
    def jump(self) -> float:
        """A: what one event adds to the synaptic current."""
        return self.i_gain * self.i_w / self.i_tau * -math.expm1(-self.t_pulse / self.tau)

    def response(self, t: float) -> float:
        """A: the current ``t`` seconds (>= 0) after one event into a synapse at rest."""
        t = validation.real("t", t, lo=0.0, hi=1e3)
        return self.jump * math.exp(-t / self.tau)

    def train_peak(self, period: float) -> float:
        """A: the steady peak under a regular train of ``period`` seconds (> 0), just after an event:
        ``jump / (1 - exp(-period / tau))``."""
        return self.jump / -math.expm1(-_positive("period", period) / self.tau)


def route(config, probe):
    """The events the router delivers for ``probe``'s sources on a board configured with ``config``
    (a :class:`hil.dynapse2.Config` and :class:`hil.dynapse2.RouteProbe`), as a :class:`hil.dynapse2.RouteLog`:
    the routing as a pure function (docs/dynapse2.md#routing).

    A spike of neuron n on chip c goes to each of n's four SRAM destinations whose core mask is not 0:
    the chip ``(dx, dy)`` hops from c on the mesh, and there to every core of the mask. An input event
    goes to its own (chip, core). In each core reached, every neuron whose CAM entry holds the tag and a
    weight mask other than 0 receives an event of that entry's synapse type and weight mask; two
    matching entries of one neuron, two. The log is sorted by (source, chip, neuron, entry)."""
    from .types import RouteLog

    w = config.mesh_width
    visits = []   # (source, chip, core, tag)
    for i, (c, n) in enumerate(zip(probe.spike_chips.tolist(), probe.spike_neurons.tolist())):
        for d in range(config.sram_cores.shape[2]):
            mask = int(config.sram_cores[c, n, d])
            if mask == 0:
                continue
            x, y = c % w + int(config.sram_dx[c, n, d]), c // w + int(config.sram_dy[c, n, d])
            visits += [(i, y * w + x, k, int(config.sram_tag[c, n, d])) for k in range(g.CORES) if mask >> k & 1]
    m = len(probe.spike_chips)
    visits += [(m + j, c, k, t) for j, (t, c, k) in enumerate(zip(
        probe.input_tags.tolist(), probe.input_chips.tolist(), probe.input_cores.tolist()))]
    rows = []
    for source, chip, core, tag in visits:
        block = slice(core * g.NEURONS_PER_CORE, (core + 1) * g.NEURONS_PER_CORE)
        hit = (config.cam_tag[chip, block] == tag) & (config.cam_weights[chip, block] != 0)
        neuron, entry = np.nonzero(hit)
        neuron = neuron + core * g.NEURONS_PER_CORE
        rows.append(np.stack([np.full(neuron.size, source), np.full(neuron.size, chip), neuron, entry,
                              config.cam_type[chip, neuron, entry], config.cam_weights[chip, neuron, entry]], 1))
    table = np.concatenate(rows) if rows else np.zeros((0, 6), np.int64)
    table = table[np.lexsort(table[:, 3::-1].T)] if len(table) else table
    return RouteLog(sources=table[:, 0], chips=table[:, 1], neurons=table[:, 2], entries=table[:, 3],
                    types=table[:, 4], weights=table[:, 5])


# --- the virtual chip's stated mismatch ---------------------------------------------------------------

MISMATCH_SIGMA = NEURON_MISMATCH_SIGMA
"""Relative spread of each generator's, each neuron's and each CAM entry's copy of a current:
``max(1 + 0.10 N(0, 1), 0.5)`` (docs/dynapse2.md#neurons-and-synapses)."""


def log_gain_sigma(sigma: float = MISMATCH_SIGMA) -> float:
    """The standard deviation of ``ln max(1 + sigma N(0, 1), 0.5)``: the spread of a log current across
    neurons of one core (their generator's gain is common), by quadrature over the normal density."""
    from scipy import integrate, stats

    def moment(k):
        return integrate.quad(lambda z: math.log(max(1 + sigma * z, 0.5)) ** k * stats.norm.pdf(z), -12, 12,
                              points=[(0.5 - 1) / sigma], limit=200)[0]
    return math.sqrt(moment(2) - moment(1) ** 2)


def gain_box(exponents: dict, z: float, sigma: float = MISMATCH_SIGMA) -> tuple[float, float]:
    """(lo, hi) of a product of independent gains ``g_i ** e_i`` (``exponents``: name -> e_i, each gain a
    product of a generator's and a neuron's or synapse's, each ``max(1 + sigma N, 0.5)``) when every
    gain's normal deviate lies within +-z."""
    g_lo, g_hi = max(1 - sigma * z, 0.5), 1 + sigma * z
    lo = hi = 1.0
    for e in exponents.values():
        a, b = (g_lo * g_lo) ** e, (g_hi * g_hi) ** e      # two gains per current: generator and own
        lo, hi = lo * min(a, b), hi * max(a, b)
    return lo, hi


# --- one neuron ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Neuron:
    """One DPI neuron's currents (A), as its core's biases give them; the model of its f-I curve and its
    refractory period at the integration step ``dt`` (s) of the chip's forward-Euler equations
    (emulator/dynapse2/circuit.py)."""

    currents: dict
    """{parameter: A} for every parameter of :data:`hil.dynapse2.PARAMETERS`."""
    layout: Layout = DEFAULT_LAYOUT

    @classmethod
    def of(cls, biases: dict) -> "Neuron":
        """The nominal neuron of {parameter: (coarse, fine)} (any missing parameter at its default)."""
        from emulator.dynapse2 import biasgen, circuit

        settings = {**circuit.DEFAULT_BIASES, **biases}
        return cls({p: float(biasgen.current(p, *settings[p])) for p in biasgen.PARAMETERS})

    def _at_least_io(self, name: str) -> float:
        return max(self.currents[name], self.layout.Io)

    def synapse_tau(self, synapse: str) -> float:
        """s: the time constant of synapse type ``synapse`` ('ampa', 'gaba', 'nmda', 'shunt', or 'ahp')."""
        return time_constant(self._at_least_io(f"Itau_{synapse}"), getattr(self.layout, f"C_{synapse}"), self.layout)

    @property
    def t_pulse(self) -> float:
        return pulse_width(self.currents["Ipulse"], self.layout.C_pulse, self.layout)

    def event_jump(self, synapse: str, weight_current: float) -> float:
        """A: what one event of weight current ``weight_current`` (A) adds to the synapse beyond its charge
        of a step without events: ``(1 - exp(-t_pulse / tau)) Igain / Itau W``, for AMPA (whose charge
        target is clipped at Io, as DynapSim's) ``(1 - exp(-t_pulse / tau)) (max(Igain / Itau W, Io) - Io)``."""
        gain = self._at_least_io(f"Igain_{synapse}") / self._at_least_io(f"Itau_{synapse}")
        charge = -math.expm1(-self.t_pulse / self.synapse_tau(synapse))
        if synapse != "ampa":
            return charge * gain * weight_current
        return charge * (max(gain * weight_current, self.layout.Io) - self.layout.Io)

    def synapse_rest(self, synapse: str, dt: float) -> float:
        """A: a synapse's current at rest under steps of ``dt`` s: 0, but AMPA's: each step charges it by
        ``(1 - exp(-t_pulse / tau)) Io`` (the charge target is clipped at Io, as DynapSim's), so it rests at
        that over ``1 - exp(-dt / tau)``."""
        if synapse != "ampa":
            return 0.0
        tau = self.synapse_tau(synapse)
        return -math.expm1(-self.t_pulse / tau) * self.layout.Io / -math.expm1(-dt / tau)

    def refractory_steps(self, dt: float) -> int:
        """Steps without drive after a spike: ``ceil(t_ref / dt)``, ``t_ref = Vth C_ref / Iref``."""
        t_ref = pulse_width(self.currents["Iref"], self.layout.C_ref, self.layout)
        return int(math.ceil(t_ref / dt * (1 - 1e-12)))

    def charge_time(self, dt: float) -> float:
        """s: the time the membrane takes from Io (after the refractory period) to the spike threshold, with
        no events: the integral of ``dI / (dI/dt)`` of the DPI membrane's equation (the synapses and the
        adaptation at rest, :meth:`synapse_rest`); inf where the membrane settles below the threshold."""
        from scipy import integrate

        lay, io = self.layout, self.layout.Io
        itau, igain = self._at_least_io("Itau_mem"), self._at_least_io("Igain_mem")
        rest = {s: self.synapse_rest(s, dt) for s in ("ampa", "gaba", "nmda", "shunt")}
        iahp = io
        ileak = (itau + iahp) + rest["shunt"]
        drive = (((rest["ampa"] + rest["nmda"]) - rest["gaba"]) - ileak) + self.currents["Idc"]
        inf = igain / itau * (max(drive, io) - ileak)
        tau_c = lay.C_mem * lay.U_T / lay.kappa
        e = lay.kappa / (lay.kappa + 1)
        threshold = self.currents["Ispkthr"]

        def slope(i):
            g = i + igain
            return i / (tau_c * g) * ((ileak * inf + io * (i / io) ** e * g) - i * (ileak * (1 + iahp / itau)))
        grid = np.geomspace(io * (1 + 1e-9), threshold, 400)
        if threshold <= io or (slope(grid) <= 0).any():
            return math.inf
        return integrate.quad(lambda i: 1.0 / slope(i), io, threshold, limit=400, points=grid[::40].tolist())[0]

    def isi(self, dt: float) -> float:
        """s: the interval between spikes under a constant drive (Idc): the refractory steps plus the charge
        time (the f-I curve is its inverse)."""
        return self.refractory_steps(dt) * dt + self.charge_time(dt)

    def with_gains(self, gains: dict) -> "Neuron":
        """The neuron with some currents multiplied: {parameter: factor}."""
        return dataclasses.replace(self, currents={p: v * gains.get(p, 1.0) for p, v in self.currents.items()})
