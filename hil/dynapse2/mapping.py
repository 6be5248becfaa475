"""A network mapped onto the Dynap-SE2-like board, and a board's configuration read back as a network
(docs/dynapse2.md#mapping-a-network).

The way there, as in rockpool's Dynap-SE2 flow (seed 004: mapper -> quantisation -> config)::

    spec = specification(network)          # neurons placed on cores, one parameter set per core
    quantised = quantise(spec)             # per core 4 base weight currents, per connection a 4-bit mask
    cfg = config(spec, quantised)          # a hil.dynapse2.Config: biases, SRAM, CAM

and back: ``network_from_config(cfg, spec.neurons, n_in)`` is the :class:`Network` the configuration
implements, equal to ``realised(spec, quantised)`` (the network as quantised) exactly.

Conventions of the configurations :func:`config` writes (its canonical form; a configuration in it
comes back from ``config(specification(network_from_config(...), neurons=...))`` array for array):

* Tags: input channel i carries tag i; the network's neurons that send (a nonzero row of ``w_rec``)
  carry tags n_in, n_in + 1, ... in network order. Tags are unique on the board, so 2048 bound inputs
  plus sending neurons.
* SRAM: a sending neuron has one destination per chip it reaches, in chip order from slot 0: its tag,
  the mask of that chip's cores holding its targets, the hops there. Other slots are all zero.
* CAM: a neuron's entries hold its sources in order, input channels first, then neurons, each with
  type AMPA (weight > 0) or GABA (< 0) and its mask; other entries are all zero.
* Biases: each used core's parameters at their nearest settings, its base weight currents as
  :func:`hil.dynapse2.quantisation.quantise` puts them (the used ones ascending from Iw_0); unused
  base currents and every bias of an unused core at :data:`hil.dynapse2.types.DEFAULT_BIASES`.

Input events for channel i go, with tag i, to every (chip, core) of ``spec.input_routes[i]``.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.vq import kmeans, vq

from emulator.dynapse2 import biasgen, geometry as g

from ..contract import validation
from ..contract.errors import InvalidValue
from . import bias_setting, quantisation
from .models import DEFAULT_LAYOUT as _L
from .types import DEFAULT_BIASES, PARAMETERS, Config, mesh_position

_AT_LEAST_IO = ("Itau_", "Igain_")
"""Parameters the circuit reads as at least Io (``emulator.dynapse2.circuit.step_factors``): a setting
below Io would not do what its current says, so a network may not ask for one."""

# (network field, core parameter, conversion, capacitance): "tau" s = C U_T / (kappa I) and back,
# "pulse" s = Vth C / I and back (models.time_constant / tau_current / pulse_width), "current" A as it is.
_TABLE = (
    ("tau_mem", "Itau_mem", "tau", "C_mem"), ("tau_ampa", "Itau_ampa", "tau", "C_ampa"),
    ("tau_gaba", "Itau_gaba", "tau", "C_gaba"), ("tau_nmda", "Itau_nmda", "tau", "C_nmda"),
    ("tau_shunt", "Itau_shunt", "tau", "C_shunt"), ("tau_ahp", "Itau_ahp", "tau", "C_ahp"),
    ("i_gain_mem", "Igain_mem", "current", None), ("i_gain_ampa", "Igain_ampa", "current", None),
    ("i_gain_gaba", "Igain_gaba", "current", None), ("i_gain_nmda", "Igain_nmda", "current", None),
    ("i_gain_shunt", "Igain_shunt", "current", None), ("i_gain_ahp", "Igain_ahp", "current", None),
    ("threshold", "Ispkthr", "current", None), ("refractory", "Iref", "pulse", "C_ref"),
    ("t_pulse", "Ipulse", "pulse", "C_pulse"), ("t_pulse_ahp", "Ipulse_ahp", "pulse", "C_pulse_ahp"),
    ("i_dc", "Idc", "current", None), ("i_nmda_gate", "If_nmda", "current", None),
    ("i_w_ahp", "Iw_ahp", "current", None),
)
NEURON_PARAMETERS = tuple(row[0] for row in _TABLE)
"""The per-neuron parameters of a :class:`Network`, in the order of :meth:`Network.parameters`."""
CORE_PARAMETERS = tuple(row[1] for row in _TABLE)
"""The core parameter (bias) each of :data:`NEURON_PARAMETERS` sets."""
_UNIT = {"tau": "s", "pulse": "s", "current": "A"}
_P = [PARAMETERS.index(p) for p in CORE_PARAMETERS]
_W = [PARAMETERS.index(p) for p in quantisation.WEIGHT_PARAMETERS]


def _value(kind: str, capacitance: str | None, current):
    """The parameter value (s or A) of a current (A): the forward formulas of hil.dynapse2.models,
    elementwise and in their order of operations, so that both directions give the same floats."""
    if kind == "tau":
        return getattr(_L, capacitance) * _L.U_T / (_L.kappa * current)
    if kind == "pulse":
        return _L.Vth * getattr(_L, capacitance) / current
    return current


def _current(kind: str, capacitance: str | None, value):
    """The current (A) of a parameter value: the inverse formulas (models.tau_current; pulse_width's
    inverse Vth C / t)."""
    if kind == "tau":
        return getattr(_L, capacitance) * _L.U_T / (_L.kappa * value)
    if kind == "pulse":
        return _L.Vth * getattr(_L, capacitance) / value
    return value


def _ranges() -> dict:
    """{field: (lo, hi) in the field's unit, (lo, hi) A}: what each parameter's generator can give (from
    its smallest current, or the smallest at least Io where the circuit reads it as at least Io, to its
    largest)."""
    coarse, fine = np.meshgrid(np.arange(biasgen.COARSE_MAX + 1), np.arange(biasgen.FINE_MAX + 1), indexing="ij")
    out = {}
    for name, p, kind, cap in _TABLE:
        grid = np.unique(biasgen.current(p, coarse, fine))
        lo = grid[grid >= _L.Io][0] if p.startswith(_AT_LEAST_IO) else grid[0]
        a, b = _value(kind, cap, lo), _value(kind, cap, grid[-1])
        out[name] = ((float(min(a, b)), float(max(a, b))), (float(lo), float(grid[-1])))
    return out


RANGES = _ranges()
"""{field: ((lo, hi) in s or A, (lo, hi) A of its generator)}: each neuron parameter's allowed range."""


def _defaults() -> dict:
    return {name: float(_value(kind, cap, biasgen.current(p, *DEFAULT_BIASES[p]))) for name, p, kind, cap in _TABLE}


DEFAULTS = _defaults()
"""{field: value}: each neuron parameter's default, the value of its setting in a fresh Config
(:data:`hil.dynapse2.types.DEFAULT_BIASES`, the nearest settings of rockpool's default currents: about
20 ms membrane, 10 ms synapses, 50 ms adaptation, 0.1 uA threshold, 1 ms refractory, 10 us pulse)."""


def _weights(name: str, value, shape: tuple) -> np.ndarray:
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(name, f"cannot be read as an array of amperes ({exc})") from None
    if a.dtype.kind not in "iuf":
        raise InvalidValue(name, f"has dtype {a.dtype}; expected real amperes")
    if a.ndim != 2 or any(s is not None and s != n for s, n in zip(shape, a.shape)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise InvalidValue(name, f"has shape {a.shape}; expected {want}")
    a = np.array(a, float)
    bad = np.argwhere(~(np.abs(a) <= quantisation.WEIGHT_MAX))   # NaN fails the comparison too
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise InvalidValue(f"{name}[{i}, {j}]", f"{float(a[i, j])!r} A is outside the allowed range "
                                                f"-{quantisation.WEIGHT_MAX:.4g}..{quantisation.WEIGHT_MAX:.4g} A "
                                                "(four base weight currents at their largest)")
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Network:
    """A recurrent network of DPI neurons as the chip runs it: input weights, recurrent weights and
    per-neuron parameters. Each parameter is a number (every neuron) or an (n,) array; None: the default
    (:data:`DEFAULTS`). Each must lie in what its bias generator can give (:data:`RANGES`, e.g. tau_mem
    about 7.7e-8 .. 0.2 s); nothing is clipped."""

    w_in: np.ndarray
    """(n_in, n) A: the weight current an event of input channel i carries to neuron j; n_in may be 0.
    The sign is the synapse: > 0 an excitatory AMPA synapse, < 0 an inhibitory GABA synapse, 0 no
    connection. |w| at most 4 x 0.49 uA (all four base weight currents at their largest)."""
    w_rec: np.ndarray
    """(n, n) A: the same for a spike of neuron i (row) to neuron j (column); n >= 1."""
    tau_mem: np.ndarray | float | None = None
    """s: the membrane time constant (Itau_mem)."""
    tau_ampa: np.ndarray | float | None = None
    tau_gaba: np.ndarray | float | None = None
    tau_nmda: np.ndarray | float | None = None
    tau_shunt: np.ndarray | float | None = None
    """s: the synapses' time constants (Itau_ampa ...)."""
    tau_ahp: np.ndarray | float | None = None
    """s: the adaptation's time constant (Itau_ahp)."""
    i_gain_mem: np.ndarray | float | None = None
    i_gain_ampa: np.ndarray | float | None = None
    i_gain_gaba: np.ndarray | float | None = None
    i_gain_nmda: np.ndarray | float | None = None
    i_gain_shunt: np.ndarray | float | None = None
    i_gain_ahp: np.ndarray | float | None = None
    """A: the gain currents (Igain_mem ...); a synapse's current per unit weight is Igain / Itau."""
    threshold: np.ndarray | float | None = None
    """A: the membrane current at which the neuron spikes (Ispkthr)."""
    refractory: np.ndarray | float | None = None
    """s: the refractory period, Vth C_ref / Iref."""
    t_pulse: np.ndarray | float | None = None
    """s: the synapses' pulse width, Vth C_pulse / Ipulse."""
    t_pulse_ahp: np.ndarray | float | None = None
    """s: the adaptation's pulse width, Vth C_pulse_ahp / Ipulse_ahp."""
    i_dc: np.ndarray | float | None = None
    """A: a constant input current (Idc); the default Io is as good as none."""
    i_nmda_gate: np.ndarray | float | None = None
    """A: NMDA synapses pass only while the membrane current is above this (If_nmda)."""
    i_w_ahp: np.ndarray | float | None = None
    """A: the adaptation's weight current per spike (Iw_ahp)."""

    def __post_init__(self):
        w_rec = _weights("w_rec", self.w_rec, (None, None))
        n = w_rec.shape[0]
        if n < 1 or w_rec.shape[1] != n:
            raise InvalidValue("w_rec", f"has shape {w_rec.shape}; expected (n, n) with n >= 1")
        object.__setattr__(self, "w_rec", w_rec)
        object.__setattr__(self, "w_in", _weights("w_in", self.w_in, (None, n)))
        for name in NEURON_PARAMETERS:
            object.__setattr__(self, name, _parameter(name, getattr(self, name), n))

    @property
    def n(self) -> int:
        return self.w_rec.shape[0]

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    def parameters(self) -> np.ndarray:
        """(n, 19): every neuron's parameters in the order of :data:`NEURON_PARAMETERS`."""
        return np.stack([getattr(self, name) for name in NEURON_PARAMETERS], axis=1)


def _parameter(name: str, value, n: int) -> np.ndarray:
    (lo, hi), _ = RANGES[name]
    unit = _UNIT[_TABLE[NEURON_PARAMETERS.index(name)][2]]
    if value is None:
        value = DEFAULTS[name]
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(name, f"cannot be read as numbers ({exc})") from None
    if a.dtype.kind not in "iuf" or a.ndim > 1 or (a.ndim == 1 and len(a) != n):
        raise InvalidValue(name, f"is {a.dtype} of shape {a.shape}; expected a number or ({n},) {unit}")
    a = np.array(np.broadcast_to(a, (n,)), float)
    bad = np.flatnonzero(~((a >= lo) & (a <= hi)))
    if bad.size:
        i = int(bad[0])
        raise InvalidValue(f"{name}[{i}]", f"{float(a[i])!r} {unit} is outside the allowed range {lo:.4g}..{hi:.4g} "
                                           f"{unit} (what the {CORE_PARAMETERS[NEURON_PARAMETERS.index(name)]} "
                                           "generator gives)")
    a.setflags(write=False)
    return a


def _mesh(mesh) -> tuple[int, int]:
    try:
        w, h = mesh
    except (TypeError, ValueError):
        raise InvalidValue("mesh", f"{mesh!r} is not (width, height)") from None
    return (validation.integer("mesh width", w, lo=1, hi=g.MESH_MAX),
            validation.integer("mesh height", h, lo=1, hi=g.MESH_MAX))


def _neurons(neurons, n: int | None, chips: int) -> np.ndarray:
    """(n,) distinct hardware neurons 0..chips x 1024 - 1 (n None: any n >= 1)."""
    a = np.asarray(neurons)
    if a.ndim != 1 or (n is not None and len(a) != n) or not len(a):
        raise InvalidValue("neurons", f"has shape {a.shape}; expected ({'n >= 1' if n is None else n},): one "
                                      "hardware neuron per network neuron")
    a = validation.integer_array("neurons", a, lo=0, hi=chips * g.NEURONS - 1, dtype=np.int64)
    seen, first = np.unique(a, return_index=True)
    if len(seen) < len(a):
        i = int(np.setdiff1d(np.arange(len(a)), first)[0])
        raise InvalidValue(f"neurons[{i}]", f"hardware neuron {int(a[i])} is already network neuron "
                                            f"{int(np.flatnonzero(a == a[i])[0])}; one network neuron each")
    return a


@dataclass(frozen=True, eq=False)
class Specification:
    """A network placed on a board: a hardware neuron for each network neuron and one parameter set per
    core (neurons sharing a core share its biases). Checked here that it fits: at most 64 sources per
    neuron (CAM entries), 4 destination chips per sending neuron (SRAM), 2048 tags. Made by
    :func:`specification`."""

    network: Network
    neurons: np.ndarray
    """(n,) int64: the hardware neuron of each network neuron, chip * 1024 + core * 256 + neuron 0..255."""
    core_parameters: np.ndarray
    """(chips, 4, 19): each core's parameters in the order of :data:`NEURON_PARAMETERS` (s or A); read
    only on the cores that hold network neurons (``used_cores``)."""
    mesh_width: int = g.MESH_DEFAULT[0]
    mesh_height: int = g.MESH_DEFAULT[1]
    """The board's mesh, chips across and down (1..4 each)."""
    used_cores: np.ndarray = field(init=False)
    """(chips, 4) bool: the cores that hold network neurons."""
    neuron_tags: np.ndarray = field(init=False)
    """(n,) int32: the tag of each sending neuron's spikes; -1 for a neuron with no recurrent targets."""
    input_routes: np.ndarray = field(init=False)
    """(n_in, chips, 4) bool: the cores every event of input channel i (tag i) must be sent to."""

    def __post_init__(self):
        w, h = _mesh((self.mesh_width, self.mesh_height))
        object.__setattr__(self, "mesh_width", w)
        object.__setattr__(self, "mesh_height", h)
        net, chips = self.network, w * h
        if not isinstance(net, Network):
            raise InvalidValue("network", f"is {type(net).__name__}; expected a hil.dynapse2.mapping.Network")
        neurons = _neurons(self.neurons, net.n, chips)
        object.__setattr__(self, "neurons", neurons)
        cp = np.array(self.core_parameters, float)
        if cp.shape != (chips, g.CORES, len(NEURON_PARAMETERS)):
            raise InvalidValue("core_parameters", f"has shape {cp.shape}; expected ({chips}, {g.CORES}, "
                                                  f"{len(NEURON_PARAMETERS)})")
        core = neurons // g.NEURONS_PER_CORE
        used = np.zeros(chips * g.CORES, bool)
        used[core] = True
        for k, name in enumerate(NEURON_PARAMETERS):   # the used cores' values, checked as a network's
            (lo, hi), _ = RANGES[name]
            v = cp.reshape(-1, cp.shape[2])[:, k]
            bad = np.flatnonzero(used & ~((v >= lo) & (v <= hi)))
            if bad.size:
                c = int(bad[0])
                raise InvalidValue(f"core_parameters[{c // g.CORES}, {c % g.CORES}, {k}]",
                                   f"{name} {float(v[c])!r} is outside the allowed range {lo:.4g}..{hi:.4g}")
        cp.setflags(write=False)
        object.__setattr__(self, "core_parameters", cp)
        used = used.reshape(chips, g.CORES)
        used.setflags(write=False)
        object.__setattr__(self, "used_cores", used)
        connected = np.concatenate([net.w_in, net.w_rec]) != 0
        fan_in = connected.sum(axis=0)
        if fan_in.max(initial=0) > g.CAM_ENTRIES:
            j = int(np.argmax(fan_in))
            raise InvalidValue(f"w_in, w_rec[:, {j}]", f"neuron {j} receives from {int(fan_in[j])} sources; "
                                                      f"allowed: at most {g.CAM_ENTRIES} (its CAM entries)")
        sends = (net.w_rec != 0).any(axis=1)
        if net.n_in + sends.sum() > g.TAGS:
            raise InvalidValue("w_in, w_rec", f"need {net.n_in + int(sends.sum())} tags ({net.n_in} input "
                                              f"channels + {int(sends.sum())} sending neurons); the board has "
                                              f"{g.TAGS}")
        tags = np.full(net.n, -1, np.int32)
        tags[sends] = net.n_in + np.arange(int(sends.sum()))
        tags.setflags(write=False)
        object.__setattr__(self, "neuron_tags", tags)
        chip = neurons // g.NEURONS
        reach = np.zeros((net.n, chips), bool)
        i, j = np.nonzero(net.w_rec)
        reach[i, chip[j]] = True
        far = reach.sum(axis=1)
        if far.max(initial=0) > g.SRAM_DESTINATIONS:
            i = int(np.argmax(far))
            raise InvalidValue(f"w_rec[{i}, :]", f"neuron {i} sends to neurons on {int(far[i])} chips "
                                                 f"({np.flatnonzero(reach[i]).tolist()}); allowed: at most "
                                                 f"{g.SRAM_DESTINATIONS} (its SRAM destinations)")
        routes = np.zeros((net.n_in, chips * g.CORES), bool)
        i, j = np.nonzero(net.w_in)
        routes[i, core[j]] = True
        routes = routes.reshape(net.n_in, chips, g.CORES)
        routes.setflags(write=False)
        object.__setattr__(self, "input_routes", routes)

    @property
    def chips(self) -> int:
        return self.mesh_width * self.mesh_height

    def clustered(self) -> Network:
        """The network with each neuron's parameters replaced by its core's (before they are rounded to
        bias settings): what placing it on cores alone does to it."""
        p = self.core_parameters.reshape(-1, len(NEURON_PARAMETERS))[self.neurons // g.NEURONS_PER_CORE]
        return Network(self.network.w_in, self.network.w_rec, **dict(zip(NEURON_PARAMETERS, p.T)))


def _core_values(p: np.ndarray) -> np.ndarray:
    """One parameter set for neurons sharing a core (p: (members, 19)): per parameter, theirs if they
    agree, else their geometric mean (the parameters are scales, times or currents: the mean of the
    logarithms)."""
    mean = np.exp(np.log(p).mean(axis=0))
    # The mean lies within the members' values; the bounds only undo exp(log())'s last-bit rounding.
    mean = np.clip(mean, p.min(axis=0), p.max(axis=0))
    return np.where((p == p[0]).all(axis=0), p[0], mean)


def specification(network: Network, mesh=g.MESH_DEFAULT, neurons=None) -> Specification:
    """``network`` placed on a board of ``mesh`` (width, height) chips.

    ``neurons`` (n,) gives each network neuron's hardware neuron (chip * 1024 + core * 256 + k); neurons
    that share a core and differ in parameters get their geometric mean. Without it, neurons with equal
    parameters are put together, each group on as many consecutive cores as it needs (256 neurons each),
    in order of first appearance from chip 0 core 0; if that needs more cores than the board has, the
    neurons are clustered first, by k-means on the logarithms of their parameters (``scipy.cluster.vq
    .kmeans``, seeded), with as many clusters as fit, and each core takes its cluster's geometric mean.
    Refused (:class:`hil.errors.InvalidValue`): more neurons than the board holds, and what
    :class:`Specification` refuses."""
    if not isinstance(network, Network):
        raise InvalidValue("network", f"is {type(network).__name__}; expected a hil.dynapse2.mapping.Network")
    w, h = _mesh(mesh)
    chips, n = w * h, network.n
    cores = chips * g.CORES
    p = network.parameters()
    core_parameters = np.broadcast_to(np.array([DEFAULTS[k] for k in NEURON_PARAMETERS]),
                                      (cores, len(NEURON_PARAMETERS))).copy()
    if neurons is None:
        if n > chips * g.NEURONS:
            raise InvalidValue("network", f"has {n} neurons; a {w} x {h} mesh holds {chips * g.NEURONS}")
        labels = _clusters(p, cores)
        neurons = np.zeros(n, np.int64)
        slot = 0
        for label in labels[np.sort(np.unique(labels, return_index=True)[1])]:
            members = np.flatnonzero(labels == label)
            for start in range(0, len(members), g.NEURONS_PER_CORE):
                chunk = members[start:start + g.NEURONS_PER_CORE]
                neurons[chunk] = slot * g.NEURONS_PER_CORE + np.arange(len(chunk))
                core_parameters[slot] = _core_values(p[members])
                slot += 1
    else:
        neurons = _neurons(neurons, n, chips)
        core = neurons // g.NEURONS_PER_CORE
        for c in np.unique(core):
            core_parameters[c] = _core_values(p[core == c])
    return Specification(network=network, neurons=neurons, mesh_width=w, mesh_height=h,
                         core_parameters=core_parameters.reshape(chips, g.CORES, -1))


def _clusters(p: np.ndarray, cores: int) -> np.ndarray:
    """(n,) a label per neuron such that the groups fit on ``cores`` cores of 256 neurons."""
    _, first, labels = np.unique(p, axis=0, return_index=True, return_inverse=True)
    labels = labels.reshape(-1)

    def fits(lab):
        return int(np.sum(-(-np.bincount(lab) // g.NEURONS_PER_CORE))) <= cores

    if fits(labels):
        return labels
    x = np.log(p)
    for k in range(min(cores, len(first)), 0, -1):
        book, _ = kmeans(x, k, rng=np.random.default_rng(0))
        lab, _ = vq(x, book)
        if fits(lab):
            return lab
    raise RuntimeError("one cluster always fits")  # pragma: no cover - n <= chips x 1024 is checked


@dataclass(frozen=True, eq=False)
class Quantised:
    """A specification's weights as the chip holds them: four base weight currents per core, a mask per
    connection (:func:`quantise`)."""

    base_settings: np.ndarray
    """(chips, 4, 4, 2) uint8: the (coarse 0..5, fine 0..255) of Iw_0..Iw_3 on every core."""
    masks_in: np.ndarray
    """(n_in, n) uint8 0..15: the mask of each input connection; 0 exactly where the weight is 0."""
    masks_rec: np.ndarray
    """(n, n) uint8 0..15: the same for the recurrent connections."""

    def __post_init__(self):
        b = validation.integer_array("base_settings", self.base_settings, lo=0, hi=biasgen.FINE_MAX,
                                     dtype=np.uint8, shape=(None, g.CORES, quantisation.BASES, 2))
        if b[..., 0].max() > biasgen.COARSE_MAX:
            at = tuple(int(x) for x in np.argwhere(b[..., 0] > biasgen.COARSE_MAX)[0])
            raise InvalidValue(f"base_settings[{', '.join(map(str, at))}, 0]",
                               f"coarse {int(b[at + (0,)])} is outside the allowed range 0..{biasgen.COARSE_MAX}")
        object.__setattr__(self, "base_settings", b)
        for name in ("masks_in", "masks_rec"):
            a = np.asarray(getattr(self, name))
            if a.size == 0:
                a = np.zeros(a.shape, np.uint8)
                a.setflags(write=False)
            else:
                a = validation.integer_array(name, a, lo=0, hi=quantisation.LEVELS - 1, dtype=np.uint8, ndim=2)
            object.__setattr__(self, name, a)

    @property
    def base_currents(self) -> np.ndarray:
        """(chips, 4, 4) A: the current of each base setting."""
        return np.stack([biasgen.current(p, self.base_settings[:, :, k, 0], self.base_settings[:, :, k, 1])
                         for k, p in enumerate(quantisation.WEIGHT_PARAMETERS)], axis=-1)


def quantise(spec: Specification) -> Quantised:
    """Each used core's incoming weights (of its neurons, from inputs and neurons, both signs) quantised
    together by :func:`hil.dynapse2.quantisation.quantise`; its used base currents in Iw_0.. at their
    settings (:func:`hil.dynapse2.bias_setting` gives each back exactly), the others at their defaults."""
    net = spec.network
    settings = np.zeros((spec.chips, g.CORES, quantisation.BASES, 2), np.uint8)
    settings[:] = [DEFAULT_BIASES[p] for p in quantisation.WEIGHT_PARAMETERS]
    masks_in = np.zeros(net.w_in.shape, np.uint8)
    masks_rec = np.zeros(net.w_rec.shape, np.uint8)
    core = spec.neurons // g.NEURONS_PER_CORE
    for c in np.unique(core):
        cols = np.flatnonzero(core == c)
        w_in, w_rec = net.w_in[:, cols], net.w_rec[:, cols]
        code = quantisation.quantise(np.abs(np.concatenate([w_in[w_in != 0], w_rec[w_rec != 0]])))
        for k, b in enumerate(code.bases):
            settings[c // g.CORES, c % g.CORES, k] = bias_setting(quantisation.WEIGHT_PARAMETERS[k], float(b))
        split = int(np.count_nonzero(w_in))
        for masks, w, part in ((masks_in, w_in, code.masks[:split]), (masks_rec, w_rec, code.masks[split:])):
            block = np.zeros(w.shape, np.uint8)
            block[w != 0] = part
            masks[:, cols] = block
    return Quantised(base_settings=settings, masks_in=masks_in, masks_rec=masks_rec)


def _check(spec: Specification, quantised: Quantised) -> None:
    net = spec.network
    if quantised.base_settings.shape[0] != spec.chips:
        raise InvalidValue("base_settings", f"holds {quantised.base_settings.shape[0]} chips; the specification "
                                            f"{spec.chips}")
    for name, masks, w in (("masks_in", quantised.masks_in, net.w_in), ("masks_rec", quantised.masks_rec, net.w_rec)):
        if masks.shape != w.shape:
            raise InvalidValue(name, f"has shape {masks.shape}; the network's weights {w.shape}")
        bad = np.argwhere((masks != 0) != (w != 0))
        if bad.size:
            i, j = (int(x) for x in bad[0])
            raise InvalidValue(f"{name}[{i}, {j}]", f"mask {int(masks[i, j])} for weight {w[i, j]!r} A; a mask is "
                                                    "0 exactly where the weight is 0")


def _core_biases(spec: Specification) -> np.ndarray:
    """(chips, 4, 19, 2): the settings of each used core's parameters (unused cores: the defaults)."""
    out = np.zeros((spec.chips, g.CORES, len(_TABLE), 2), np.uint8)
    out[:] = [DEFAULT_BIASES[p] for p in CORE_PARAMETERS]
    for chip, core in np.argwhere(spec.used_cores):
        for k, (_, p, kind, cap) in enumerate(_TABLE):
            out[chip, core, k] = bias_setting(p, float(_current(kind, cap, spec.core_parameters[chip, core, k])))
    return out


def config(spec: Specification, quantised: Quantised) -> Config:
    """The :class:`hil.dynapse2.Config` that runs ``spec`` with ``quantised`` weights, in the canonical form
    of the module's docstring. Every hardware neuron that is not a network neuron is left silent (no
    destinations, no CAM entries)."""
    _check(spec, quantised)
    net = spec.network
    cfg = Config.default((spec.mesh_width, spec.mesh_height))
    biases = cfg.biases.copy()
    biases[:, :, _P] = _core_biases(spec)
    biases[:, :, _W] = quantised.base_settings
    chip, hw = spec.neurons // g.NEURONS, spec.neurons % g.NEURONS
    core = hw // g.NEURONS_PER_CORE
    sram = {k: np.zeros(cfg.sram_tag.shape, getattr(cfg, k).dtype) for k in ("sram_tag", "sram_cores", "sram_dx",
                                                                             "sram_dy")}
    for i in np.flatnonzero(spec.neuron_tags >= 0):
        targets = np.flatnonzero(net.w_rec[i])
        x0, y0 = mesh_position(int(chip[i]), spec.mesh_width)
        for slot, c in enumerate(np.unique(chip[targets])):
            x, y = mesh_position(int(c), spec.mesh_width)
            at = (chip[i], hw[i], slot)
            sram["sram_tag"][at] = spec.neuron_tags[i]
            sram["sram_cores"][at] = np.bitwise_or.reduce(1 << core[targets[chip[targets] == c]])
            sram["sram_dx"][at], sram["sram_dy"][at] = x - x0, y - y0
    cam = {k: np.zeros(cfg.cam_tag.shape, getattr(cfg, k).dtype) for k in ("cam_tag", "cam_type", "cam_weights")}
    w = np.concatenate([net.w_in, net.w_rec])
    masks = np.concatenate([quantised.masks_in, quantised.masks_rec])
    source_tags = np.concatenate([np.arange(net.n_in), spec.neuron_tags])
    for j in range(net.n):
        src = np.flatnonzero(w[:, j])
        at = (chip[j], hw[j], slice(0, len(src)))
        cam["cam_tag"][at] = source_tags[src]
        cam["cam_type"][at] = np.where(w[src, j] > 0, g.SYNAPSE_TYPES.index("AMPA"), g.SYNAPSE_TYPES.index("GABA"))
        cam["cam_weights"][at] = masks[src, j]
    return Config(biases=biases, **sram, **cam, mesh_width=spec.mesh_width, mesh_height=spec.mesh_height)


def _network(w_in, w_rec, settings: np.ndarray) -> Network:
    """The network of weights and each neuron's (19, 2) parameter settings, (n, 19, 2)."""
    params = {}
    for k, (name, p, kind, cap) in enumerate(_TABLE):
        params[name] = _value(kind, cap, biasgen.current(p, settings[:, k, 0], settings[:, k, 1]))
    return Network(w_in=w_in, w_rec=w_rec, **params)


def _signed(masks: np.ndarray, weights: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """Weights of masks on the columns' levels ``lv`` (columns, 16), signed as ``weights``."""
    return np.sign(weights) * np.take_along_axis(lv.T, masks.astype(np.int64), axis=0) if masks.size else \
        np.zeros(masks.shape)


def _levels(base_currents: np.ndarray) -> np.ndarray:
    """(cores, 16) A: the levels of each core's base currents (chips, 4, 4) -> flattened cores."""
    b = base_currents.reshape(-1, quantisation.BASES)
    return np.stack([quantisation.levels(row) for row in b])


def realised(spec: Specification, quantised: Quantised) -> Network:
    """The network ``config(spec, quantised)`` runs: each weight the sum of the base currents of its mask
    (the settings' currents) with its sign, each neuron its core's parameters at their settings."""
    _check(spec, quantised)
    net = spec.network
    core = spec.neurons // g.NEURONS_PER_CORE
    lv = _levels(quantised.base_currents)[core]
    settings = _core_biases(spec).reshape(-1, len(_TABLE), 2)[core]
    return _network(_signed(quantised.masks_in, net.w_in, lv), _signed(quantised.masks_rec, net.w_rec, lv), settings)


def network_from_config(config: Config, neurons, n_in: int) -> Network:
    """The :class:`Network` a configuration implements, for the network neurons on hardware neurons
    ``neurons`` ((n,), chip * 1024 + core * 256 + k, in network order) and ``n_in`` input channels
    (channel i: tag i, sent to whichever cores hold entries for it).

    Neuron i sends to neuron j if one of i's SRAM destinations reaches j's core with a tag one of j's CAM
    entries holds; the weight is the sum of j's core's base currents the entry's mask selects, positive
    for AMPA and negative for GABA. The parameters are those of each neuron's core's biases through the
    forward formulas. Refused (:class:`hil.errors.InvalidValue`, naming the array and index): what a
    Network cannot hold: an NMDA or SHUNT entry, an entry in use that no source reaches, a source reaching
    a neuron twice, a hardware neuron outside ``neurons`` with destinations or entries in use, and a
    parameter whose setting is outside :data:`RANGES`."""
    if not isinstance(config, Config):
        raise InvalidValue("config", f"is {type(config).__name__}; expected a hil.dynapse2.Config")
    neurons = _neurons(neurons, None, config.chips)
    n_in = validation.integer("n_in", n_in, lo=0, hi=g.TAGS)
    n = len(neurons)
    chip, hw = neurons // g.NEURONS, neurons % g.NEURONS
    core = neurons // g.NEURONS_PER_CORE
    outside = np.ones((config.chips, g.NEURONS), bool)
    outside[chip, hw] = False
    for name, arr in (("sram_cores", config.sram_cores), ("cam_weights", config.cam_weights)):
        bad = np.argwhere(outside[:, :, None] & (arr != 0))
        if bad.size:
            c, k, e = (int(x) for x in bad[0])
            raise InvalidValue(f"{name}[{c}, {k}, {e}]", f"hardware neuron {c * g.NEURONS + k} is not one of the "
                                                         "network's neurons but has this in use")
    # Deliveries: (destination core, tag) -> sending network neuron, one row per core reached.
    i, d = np.nonzero(config.sram_cores[chip, hw] != 0)
    x, y = chip[i] % config.mesh_width + config.sram_dx[chip[i], hw[i], d], \
        chip[i] // config.mesh_width + config.sram_dy[chip[i], hw[i], d]
    dest = (y * config.mesh_width + x).astype(np.int64)
    mask = config.sram_cores[chip[i], hw[i], d]
    tag = config.sram_tag[chip[i], hw[i], d].astype(np.int64)
    rows = [(dest * g.CORES + k) * g.TAGS + tag for k in range(g.CORES)]
    on = [(mask >> k & 1).astype(bool) for k in range(g.CORES)]
    keys = np.concatenate([r[o] for r, o in zip(rows, on)])
    senders = np.concatenate([i[o] for o in on])
    order = np.argsort(keys, kind="stable")
    keys, senders = keys[order], senders[order]
    # Entries in use of the network's neurons.
    j, e = np.nonzero(config.cam_weights[chip, hw] != 0)
    etype = config.cam_type[chip[j], hw[j], e]
    weird = np.flatnonzero(~np.isin(etype, (0, 1)))
    if weird.size:
        q = int(weird[0])
        raise InvalidValue(f"cam_type[{chip[j[q]]}, {hw[j[q]]}, {e[q]}]",
                           f"{g.SYNAPSE_TYPES[etype[q]]}: a Network holds AMPA (w > 0) and GABA (w < 0) "
                           "connections only")
    etag = config.cam_tag[chip[j], hw[j], e].astype(np.int64)
    ekey = core[j] * g.TAGS + etag
    lo, hi = np.searchsorted(keys, ekey, "left"), np.searchsorted(keys, ekey, "right")
    from_input = etag < n_in
    dead = np.flatnonzero((hi == lo) & ~from_input)
    if dead.size:
        q = int(dead[0])
        raise InvalidValue(f"cam_tag[{chip[j[q]]}, {hw[j[q]]}, {e[q]}]",
                           f"tag {int(etag[q])} reaches this entry from no source (no network neuron sends it to "
                           f"core {int(core[j[q]] % g.CORES)} of chip {int(chip[j[q]])}, and it is not an input "
                           f"tag 0..{n_in - 1})")
    lv = _levels(np.stack([biasgen.current(p, config.biases[:, :, at, 0], config.biases[:, :, at, 1])
                           for p, at in zip(quantisation.WEIGHT_PARAMETERS, _W)], axis=-1))
    value = np.where(etype == 0, 1.0, -1.0) * lv[core[j], config.cam_weights[chip[j], hw[j], e]]
    # Sources: the input channel of the tag, then every sender; as (source row, column) pairs.
    count = hi - lo
    q = np.repeat(np.arange(len(j)), count)
    rec = senders[np.repeat(lo, count) + np.arange(len(q)) - np.repeat(np.cumsum(count) - count, count)]
    src = np.concatenate([etag[from_input], n_in + rec]).astype(np.int64)
    col = np.concatenate([j[from_input], j[q]])
    val = np.concatenate([value[from_input], value[q]])
    ent = np.concatenate([np.flatnonzero(from_input), q])
    pair = src * n + col
    _, first, seen = np.unique(pair, return_index=True, return_counts=True)
    if (seen > 1).any():
        p = int(first[np.flatnonzero(seen > 1)[0]])
        s, t = int(src[p]), int(col[p])
        what = f"input channel {s}" if s < n_in else f"network neuron {s - n_in}"
        raise InvalidValue(f"cam_tag[{chip[t]}, {hw[t]}, {e[ent[p]]}]",
                           f"network neuron {t} receives {what} twice; a Network has one weight per pair")
    w = np.zeros((n_in + n, n))
    w[src, col] = val
    settings = config.biases[:, :, _P].reshape(-1, len(_TABLE), 2)
    used = np.unique(core)
    for k, (name, p, _, _) in enumerate(_TABLE):
        _, (a, b) = RANGES[name]
        cur = biasgen.current(p, settings[:, k, 0], settings[:, k, 1])
        bad = np.flatnonzero((cur < a) | (cur > b))
        bad = bad[np.isin(bad, used)]
        if bad.size:
            c = int(bad[0])
            raise InvalidValue(f"biases[{c // g.CORES}, {c % g.CORES}, {PARAMETERS.index(p)}]",
                               f"{p} = {cur[c]:.4g} A, outside what a network may ask of it: {a:.4g}..{b:.4g} A"
                               + (" (the circuit reads a current below Io as Io)" if p.startswith(_AT_LEAST_IO)
                                  else ""))
    return _network(w[:n_in], w[n_in:], settings[core])
