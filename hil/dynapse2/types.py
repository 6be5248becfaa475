"""The Dynap-SE2-like family's Config, Stimulus and Readout types (docs/dynapse2.md#types).

Spiking mode: :class:`Config` + :class:`Stimulus` -> :class:`Readout` (output spikes; on a device that
says ``"traces"`` in ``info().modes``, also the state of chosen neurons at every step). Routing mode:
:class:`Config` + :class:`RouteProbe` -> :class:`RouteLog` (every event the router delivers for given
spikes and input events, digital and exact).

Neurons are named (chip, core, neuron) with neuron 0..255 in its core, or by their global index
``chip * 1024 + core * 256 + neuron``. Every type validates at construction: a coarse value 6, a fine
value 256, a tag of 12 bits, a 65th CAM entry, a hop off the mesh or unsorted event times raise an
:class:`hil.errors.InvalidValue` (a ValueError) naming the field, the index, the value and what is
allowed. They cross the wire as named arrays plus a JSON header (:mod:`hil.contract.wire`).
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from emulator.dynapse2 import biasgen, circuit, geometry as g

from ..contract import validation
from ..contract.errors import InvalidValue
from ..contract.wire import wire_type

FAMILY = "dynapse2"
PARAMETERS = biasgen.PARAMETERS
SYNAPSE_TYPES = g.SYNAPSE_TYPES


def _ints(field: str, value, *, lo: int, hi: int, dtype, shape) -> np.ndarray:
    """A read-only integer array of exactly ``shape`` (None: any length, zero allowed) in lo..hi."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(field, f"cannot be read as an array ({exc})") from None
    if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise InvalidValue(field, f"has shape {a.shape}; expected {want}")
    if a.size == 0:
        if a.dtype.kind not in "iuf":
            a = a.astype(np.int64)
        out = np.zeros(a.shape, dtype)
        out.flags.writeable = False
        return out
    return validation.integer_array(field, a, lo=lo, hi=hi, dtype=dtype, shape=shape)


def mesh_position(chip: int, width: int) -> tuple[int, int]:
    """(x, y) of chip ``chip`` on a mesh ``width`` chips wide (chips are numbered row by row)."""
    return chip % width, chip // width


@wire_type("dynapse2.Config")
@dataclass(frozen=True, eq=False)
class Config:
    """A board's configuration: every core's biases, every neuron's SRAM destinations and CAM entries.

    The chips lie on a mesh of ``mesh_width`` x ``mesh_height``; chip i sits at
    ``(i % mesh_width, i // mesh_width)``. Build one with :meth:`default` and change it with
    :meth:`with_bias`, :meth:`with_destination` and :meth:`with_cam`, or give the arrays.
    """

    biases: np.ndarray
    """(chips, 4 cores, 23 parameters, 2) the (coarse 0..5, fine 0..255) of every core parameter, in the
    order of :data:`PARAMETERS`."""
    sram_tag: np.ndarray
    """(chips, 1024, 4) the tag 0..2047 each neuron's spike carries to each of its destinations."""
    sram_cores: np.ndarray
    """(chips, 1024, 4) the 4-bit mask of the destination chip's cores it reaches; 0: the destination is off."""
    sram_dx: np.ndarray
    sram_dy: np.ndarray
    """(chips, 1024, 4) the destination chip's signed hops on the mesh, -7..7, within the mesh for every
    destination that is on."""
    cam_tag: np.ndarray
    """(chips, 1024, 64) the tag 0..2047 each CAM entry of each neuron matches."""
    cam_type: np.ndarray
    """(chips, 1024, 64) the synapse type of each entry: 0 AMPA, 1 GABA, 2 NMDA, 3 SHUNT."""
    cam_weights: np.ndarray
    """(chips, 1024, 64) the 4-bit mask of the base weight currents Iw_0..Iw_3 an event through the entry
    carries (their sum); 0: the entry is unused (it receives nothing)."""
    mesh_width: int = g.MESH_DEFAULT[0]
    mesh_height: int = g.MESH_DEFAULT[1]
    """Chips across and down the mesh, 1..4 each; chips = mesh_width x mesh_height."""

    def __post_init__(self):
        w = validation.integer("mesh_width", self.mesh_width, lo=1, hi=g.MESH_MAX)
        h = validation.integer("mesh_height", self.mesh_height, lo=1, hi=g.MESH_MAX)
        object.__setattr__(self, "mesh_width", w)
        object.__setattr__(self, "mesh_height", h)
        chips = w * h
        n = g.NEURONS
        fields = {
            "biases": ((chips, g.CORES, len(PARAMETERS), 2), 0, biasgen.FINE_MAX, np.uint8),
            "sram_tag": ((chips, n, g.SRAM_DESTINATIONS), 0, g.TAGS - 1, np.uint16),
            "sram_cores": ((chips, n, g.SRAM_DESTINATIONS), 0, (1 << g.CORES) - 1, np.uint8),
            "sram_dx": ((chips, n, g.SRAM_DESTINATIONS), -g.HOP_MAX, g.HOP_MAX, np.int8),
            "sram_dy": ((chips, n, g.SRAM_DESTINATIONS), -g.HOP_MAX, g.HOP_MAX, np.int8),
            "cam_tag": ((chips, n, g.CAM_ENTRIES), 0, g.TAGS - 1, np.uint16),
            "cam_type": ((chips, n, g.CAM_ENTRIES), 0, len(SYNAPSE_TYPES) - 1, np.uint8),
            "cam_weights": ((chips, n, g.CAM_ENTRIES), 0, (1 << g.WEIGHT_CURRENTS) - 1, np.uint8),
        }
        for name, (shape, lo, hi, dtype) in fields.items():
            object.__setattr__(self, name, _ints(name, getattr(self, name), lo=lo, hi=hi, dtype=dtype,
                                                 shape=shape))
        coarse = self.biases[..., 0]
        if coarse.max() > biasgen.COARSE_MAX:
            c, k, p = np.unravel_index(int(np.argmax(coarse > biasgen.COARSE_MAX)), coarse.shape)
            raise InvalidValue(f"biases[{c}, {k}, {p}, 0]", f"coarse {int(coarse[c, k, p])} of {PARAMETERS[p]} "
                                                              f"is outside the allowed range 0..{biasgen.COARSE_MAX}")
        self._check_hops()

    def _check_hops(self) -> None:
        chip = np.arange(self.chips)[:, None, None]
        x, y = chip % self.mesh_width + self.sram_dx, chip // self.mesh_width + self.sram_dy
        off = (self.sram_cores != 0) & ((x < 0) | (x >= self.mesh_width) | (y < 0) | (y >= self.mesh_height))
        if off.any():
            c, n, d = (int(i) for i in np.argwhere(off)[0])
            sx, sy = mesh_position(c, self.mesh_width)
            raise InvalidValue(
                f"sram_dx, sram_dy[{c}, {n}, {d}]",
                f"hop ({int(self.sram_dx[c, n, d])}, {int(self.sram_dy[c, n, d])}) from chip {c} at ({sx}, {sy}) "
                f"leaves the {self.mesh_width} x {self.mesh_height} mesh; allowed: a destination chip at x "
                f"0..{self.mesh_width - 1}, y 0..{self.mesh_height - 1} (or sram_cores 0: no destination)")

    @property
    def chips(self) -> int:
        return self.mesh_width * self.mesh_height

    @classmethod
    def default(cls, mesh: tuple[int, int] = g.MESH_DEFAULT) -> "Config":
        """Every bias at :data:`DEFAULT_BIASES`, no destinations, every CAM entry unused."""
        chips, n = mesh[0] * mesh[1], g.NEURONS
        biases = np.zeros((chips, g.CORES, len(PARAMETERS), 2), np.uint8)
        for p, name in enumerate(PARAMETERS):
            biases[:, :, p] = DEFAULT_BIASES[name]
        sram = np.zeros((chips, n, g.SRAM_DESTINATIONS), np.int8)
        cam = np.zeros((chips, n, g.CAM_ENTRIES), np.uint8)
        return cls(biases=biases, sram_tag=sram.astype(np.uint16), sram_cores=sram.astype(np.uint8), sram_dx=sram,
                   sram_dy=sram, cam_tag=cam.astype(np.uint16), cam_type=cam, cam_weights=cam,
                   mesh_width=mesh[0], mesh_height=mesh[1])

    def bias(self, parameter: str) -> np.ndarray:
        """(chips, cores, 2) the (coarse, fine) of ``parameter`` on every core."""
        return self.biases[:, :, _parameter_index(parameter)]

    def with_bias(self, parameter: str, coarse: int, fine: int, *, chip: int | None = None,
                  core: int | None = None) -> "Config":
        """A copy with ``parameter`` set to (coarse, fine) on one core, one chip's cores, or every core."""
        p = _parameter_index(parameter)
        b = self.biases.copy()
        b[_select(chip, self.chips, "chip"), _select(core, g.CORES, "core"), p] = (
            validation.integer("coarse", coarse, lo=0, hi=biasgen.COARSE_MAX),
            validation.integer("fine", fine, lo=0, hi=biasgen.FINE_MAX))
        return dataclasses.replace(self, biases=b)

    def with_biases(self, settings: dict, *, chip: int | None = None, core: int | None = None) -> "Config":
        """A copy with every ``{parameter: (coarse, fine)}`` of ``settings`` set (see :meth:`with_bias`)."""
        out = self
        for name, (coarse, fine) in settings.items():
            out = out.with_bias(name, coarse, fine, chip=chip, core=core)
        return out

    def with_destination(self, chip: int, neuron: int, slot: int, *, tag: int, cores: int, dx: int = 0,
                         dy: int = 0) -> "Config":
        """A copy in which neuron ``neuron`` (0..1023) of ``chip`` sends ``tag`` to the cores of mask
        ``cores`` of the chip ``(dx, dy)`` hops away, through its SRAM destination ``slot`` (0..3)."""
        at = (_select(chip, self.chips, "chip"), _select(neuron, g.NEURONS, "neuron"),
              _select(slot, g.SRAM_DESTINATIONS, "slot"))
        values = {"sram_tag": validation.integer("tag", tag, lo=0, hi=g.TAGS - 1),
                  "sram_cores": validation.integer("cores", cores, lo=0, hi=(1 << g.CORES) - 1),
                  "sram_dx": validation.integer("dx", dx, lo=-g.HOP_MAX, hi=g.HOP_MAX),
                  "sram_dy": validation.integer("dy", dy, lo=-g.HOP_MAX, hi=g.HOP_MAX)}
        return self._with(at, values)

    def _with(self, at: tuple, values: dict) -> "Config":
        arrays = {k: getattr(self, k).copy() for k in values}
        for k, v in values.items():
            arrays[k][at] = v
        return dataclasses.replace(self, **arrays)

    def with_cam(self, chip: int, neuron: int, entry: int, *, tag: int, synapse: int | str,
                 weights: int) -> "Config":
        """A copy in which CAM entry ``entry`` (0..63) of neuron ``neuron`` (0..1023) of ``chip`` matches
        ``tag`` with a synapse of type ``synapse`` (0..3 or 'AMPA', 'GABA', 'NMDA', 'SHUNT') and the
        base-weight mask ``weights`` (1..15; 0 clears the entry)."""
        if isinstance(synapse, str):
            if synapse not in SYNAPSE_TYPES:
                raise InvalidValue("synapse", f"{synapse!r} is not a synapse type; allowed: {list(SYNAPSE_TYPES)}")
            synapse = SYNAPSE_TYPES.index(synapse)
        at = (_select(chip, self.chips, "chip"), _select(neuron, g.NEURONS, "neuron"),
              _select(entry, g.CAM_ENTRIES, "entry"))
        return self._with(at, {"cam_tag": validation.integer("tag", tag, lo=0, hi=g.TAGS - 1),
                               "cam_type": validation.integer("synapse", synapse, lo=0, hi=len(SYNAPSE_TYPES) - 1),
                               "cam_weights": validation.integer("weights", weights, lo=0,
                                                                 hi=(1 << g.WEIGHT_CURRENTS) - 1)})

    def arrays(self) -> dict:
        """The configuration's arrays by field name (what a board is written with)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if isinstance(getattr(self, f.name),
                                                                                         np.ndarray)}

    def check_shape(self, geometry: dict) -> "Config":
        """Itself, if its mesh is the device's (``info().geometry``); else an InvalidValue."""
        mesh = tuple(geometry["mesh"])
        if (self.mesh_width, self.mesh_height) != mesh:
            raise InvalidValue("mesh_width, mesh_height", f"({self.mesh_width}, {self.mesh_height}) is not this "
                                                          f"board's mesh {mesh}")
        return self


def _parameter_index(parameter: str) -> int:
    if parameter not in PARAMETERS:
        raise InvalidValue("parameter", f"{parameter!r} is not a core parameter; known: {', '.join(PARAMETERS)}")
    return PARAMETERS.index(parameter)


def _select(index, size: int, name: str):
    """``index`` (0..size-1) or, for None, every index."""
    if index is None:
        return slice(None)
    return validation.integer(name, index, lo=0, hi=size - 1)


DEFAULT_BIASES = circuit.DEFAULT_BIASES
"""{parameter: (coarse, fine)} of :meth:`Config.default`: the nearest settings of rockpool's default
currents (``emulator.dynapse2.circuit.DEFAULT_CURRENTS``; docs/dynapse2.md#types)."""


def _events(arrays: dict, limits: dict) -> dict:
    """The event arrays, each 1-D of one common length, checked against ``limits`` {name: (lo, hi, dtype)}."""
    out = {}
    for name, (lo, hi, dtype) in limits.items():
        out[name] = _ints(name, arrays[name], lo=lo, hi=hi, dtype=dtype, shape=(None,))
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidValue(", ".join(lengths), f"have lengths {lengths}; one length for all")
    return out


@wire_type("dynapse2.Stimulus")
@dataclass(frozen=True, eq=False)
class Stimulus:
    """Input events for one run in spiking mode: event i carries tag ``tags[i]`` into core ``cores[i]`` of
    chip ``chips[i]`` at step ``times[i]``, where the neurons of that core whose CAM entries match the tag
    receive it (docs/dynapse2.md#routing)."""

    times: np.ndarray
    """(n,) int64 steps 0..duration-1, in order (equal times allowed); n 0..2**21."""
    tags: np.ndarray
    """(n,) tags 0..2047."""
    chips: np.ndarray
    """(n,) the chip each event enters, 0..chips-1 of the board."""
    cores: np.ndarray
    """(n,) the core of that chip, 0..3."""
    duration: int = 1000
    """Steps in the run, 1..100000."""
    dt: float = 1e-3
    """s: one step of the forward-Euler integration, 1e-6..1e-3 (rockpool's DynapSim default: 1 ms)."""
    record: np.ndarray | None = None
    """(k,) the global indices of up to 64 neurons whose state is recorded at every step (a device with
    the ``"traces"`` mode; duration x k at most 2**22); None: none."""

    def __post_init__(self):
        object.__setattr__(self, "duration", validation.integer("duration", self.duration, lo=1,
                                                                hi=g.DURATION_MAX))
        object.__setattr__(self, "dt", validation.real("dt", self.dt, lo=g.DT_MIN, hi=g.DT_MAX))
        ev = _events({"times": self.times, "tags": self.tags, "chips": self.chips, "cores": self.cores},
                     {"times": (0, self.duration - 1, np.int64), "tags": (0, g.TAGS - 1, np.uint16),
                      "chips": (0, g.MESH_MAX ** 2 - 1, np.uint8), "cores": (0, g.CORES - 1, np.uint8)})
        if len(ev["times"]) > g.EVENTS_MAX:
            raise InvalidValue("times", f"holds {len(ev['times'])} events; allowed: at most {g.EVENTS_MAX}")
        back = np.flatnonzero(np.diff(ev["times"]) < 0)
        if back.size:
            i = int(back[0]) + 1
            raise InvalidValue(f"times[{i}]", f"{int(ev['times'][i])} comes before times[{i - 1}] = "
                                              f"{int(ev['times'][i - 1])}; event times must be in order")
        for k, v in ev.items():
            object.__setattr__(self, k, v)
        if self.record is not None:
            rec = _ints("record", self.record, lo=0, hi=g.MESH_MAX ** 2 * g.NEURONS - 1, dtype=np.int32,
                        shape=(None,))
            if not 1 <= len(rec) <= g.RECORD_MAX:
                raise InvalidValue("record", f"names {len(rec)} neurons; allowed: 1..{g.RECORD_MAX}")
            if len(rec) * self.duration > g.RECORD_SAMPLES_MAX:
                raise InvalidValue("record", f"{len(rec)} neurons x {self.duration} steps is above "
                                             f"{g.RECORD_SAMPLES_MAX} samples")
            object.__setattr__(self, "record", rec)

    @classmethod
    def empty(cls, duration: int = 1000, dt: float = 1e-3, record=None) -> "Stimulus":
        z = np.zeros(0, np.int64)
        return cls(times=z, tags=z, chips=z, cores=z, duration=duration, dt=dt, record=record)

    def check_shape(self, geometry: dict) -> "Stimulus":
        chips = int(geometry["chips"])
        _within("chips", self.chips, chips)
        if self.record is not None:
            _within("record", self.record, chips * g.NEURONS)
        return self


def _within(field: str, a: np.ndarray, n: int) -> None:
    bad = np.flatnonzero(a >= n)
    if bad.size:
        i = int(bad[0])
        raise InvalidValue(f"{field}[{i}]", f"{int(a[i])} is outside this board's 0..{n - 1}")


@wire_type("dynapse2.Readout")
@dataclass(frozen=True, eq=False)
class Readout:
    """A run's output spikes, sorted by (time, chip, core, neuron), and the recorded state if asked for."""

    times: np.ndarray
    """(m,) int64 the step of each spike."""
    chips: np.ndarray
    cores: np.ndarray
    neurons: np.ndarray
    """(m,) the spiking neuron: chip, core 0..3, neuron 0..255 in its core."""
    dt: float = 1e-3
    """s: the run's step."""
    traces: np.ndarray | None = None
    """(duration, k, 6) float64 A: the state of each recorded neuron after each step, in the order of
    ``emulator.dynapse2.geometry.TRACES`` (imem, iampa, igaba, inmda, ishunt, iahp)."""
    record: np.ndarray | None = None
    """(k,) the recorded neurons' global indices."""

    def __post_init__(self):
        ev = _events({"times": self.times, "chips": self.chips, "cores": self.cores,
                                "neurons": self.neurons},
                     {"times": (0, g.DURATION_MAX - 1, np.int64), "chips": (0, g.MESH_MAX ** 2 - 1, np.uint8),
                      "cores": (0, g.CORES - 1, np.uint8), "neurons": (0, g.NEURONS_PER_CORE - 1, np.uint16)})
        for k, v in ev.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "dt", validation.real("dt", self.dt, lo=g.DT_MIN, hi=g.DT_MAX))
        if (self.traces is None) != (self.record is None):
            raise InvalidValue("traces", "comes with record (the neurons it holds), and only with it")
        if self.traces is not None:
            rec = _ints("record", self.record, lo=0, hi=g.MESH_MAX ** 2 * g.NEURONS - 1, dtype=np.int32,
                        shape=(None,))
            t = np.asarray(self.traces)
            if t.dtype != np.float64 or t.ndim != 3 or t.shape[1:] != (len(rec), len(g.TRACES)):
                raise InvalidValue("traces", f"is {t.dtype} {t.shape}; expected float64 (duration, {len(rec)}, "
                                             f"{len(g.TRACES)})")
            t = t.copy()
            t.flags.writeable = False
            object.__setattr__(self, "record", rec)
            object.__setattr__(self, "traces", t)

    @classmethod
    def of_neurons(cls, times, neurons, *, dt: float, traces=None, record=None) -> "Readout":
        """The readout of spikes given by global neuron index (in (time, neuron) order)."""
        neurons = np.asarray(neurons, np.int64)
        return cls(times=times, chips=neurons // g.NEURONS, cores=neurons % g.NEURONS // g.NEURONS_PER_CORE,
                   neurons=neurons % g.NEURONS_PER_CORE, dt=dt, traces=traces, record=record)

    @property
    def global_neurons(self) -> np.ndarray:
        """(m,) each spike's neuron as its global index chip * 1024 + core * 256 + neuron."""
        return (self.chips.astype(np.int64) * g.NEURONS + self.cores.astype(np.int64) * g.NEURONS_PER_CORE
                + self.neurons)

    def trace(self, name: str, neuron: int) -> np.ndarray:
        """(duration,) the recorded ``name`` (one of TRACES) of global neuron ``neuron``."""
        if self.traces is None:
            raise InvalidValue("traces", "this readout recorded no state (Stimulus.record was None)")
        if name not in g.TRACES:
            raise InvalidValue("name", f"{name!r} is not one of {list(g.TRACES)}")
        hit = np.flatnonzero(self.record == neuron)
        if not hit.size:
            raise InvalidValue("neuron", f"{neuron} was not recorded; recorded: {self.record.tolist()}")
        return self.traces[:, int(hit[0]), g.TRACES.index(name)]


@wire_type("dynapse2.RouteProbe")
@dataclass(frozen=True, eq=False)
class RouteProbe:
    """Routing mode: spikes of given neurons and given input events, for the router alone (no neuron
    dynamics). Sources are numbered spikes first, then inputs."""

    spike_chips: np.ndarray
    spike_neurons: np.ndarray
    """(m,) the spiking neurons: chip, and neuron 0..1023 on it (core * 256 + neuron in the core)."""
    input_tags: np.ndarray
    input_chips: np.ndarray
    input_cores: np.ndarray
    """(q,) input events: tag 0..2047, entering core 0..3 of a chip."""

    def __post_init__(self):
        chips = (0, g.MESH_MAX ** 2 - 1, np.uint8)
        for k, v in _events({"spike_chips": self.spike_chips, "spike_neurons": self.spike_neurons},
                            {"spike_chips": chips, "spike_neurons": (0, g.NEURONS - 1, np.uint16)}).items():
            object.__setattr__(self, k, v)
        for k, v in _events({"input_tags": self.input_tags, "input_chips": self.input_chips,
                                       "input_cores": self.input_cores},
                            {"input_tags": (0, g.TAGS - 1, np.uint16), "input_chips": chips,
                             "input_cores": (0, g.CORES - 1, np.uint8)}).items():
            object.__setattr__(self, k, v)
        if self.sources > g.EVENTS_MAX:
            raise InvalidValue("spike_chips, input_tags", f"hold {self.sources} sources; at most {g.EVENTS_MAX}")

    @property
    def sources(self) -> int:
        return len(self.spike_chips) + len(self.input_tags)

    def check_shape(self, geometry: dict) -> "RouteProbe":
        chips = int(geometry["chips"])
        _within("spike_chips", self.spike_chips, chips)
        _within("input_chips", self.input_chips, chips)
        return self


@wire_type("dynapse2.RouteLog")
@dataclass(frozen=True, eq=False)
class RouteLog:
    """Every event the router delivered, sorted by (source, chip, neuron, entry)."""

    sources: np.ndarray
    """(r,) int64 the source: index into the probe's spikes, then its inputs."""
    chips: np.ndarray
    neurons: np.ndarray
    """(r,) the receiving neuron: chip, and neuron 0..1023 on it."""
    entries: np.ndarray
    """(r,) the CAM entry 0..63 that matched."""
    types: np.ndarray
    """(r,) its synapse type 0..3 (AMPA, GABA, NMDA, SHUNT)."""
    weights: np.ndarray
    """(r,) its base-weight mask 1..15."""

    def __post_init__(self):
        for k, v in _events({"sources": self.sources, "chips": self.chips, "neurons": self.neurons,
                                       "entries": self.entries, "types": self.types, "weights": self.weights},
                            {"sources": (0, 2 * g.EVENTS_MAX, np.int64), "chips": (0, g.MESH_MAX ** 2 - 1, np.uint8),
                             "neurons": (0, g.NEURONS - 1, np.uint16), "entries": (0, g.CAM_ENTRIES - 1, np.uint8),
                             "types": (0, len(SYNAPSE_TYPES) - 1, np.uint8),
                             "weights": (1, (1 << g.WEIGHT_CURRENTS) - 1, np.uint8)}).items():
            object.__setattr__(self, k, v)

    @classmethod
    def of_router(cls, log: dict) -> "RouteLog":
        """The log of the router's deliveries (global neurons, in the router's order), sorted."""
        neurons = np.asarray(log["neurons"], np.int64)
        chips = neurons // g.NEURONS
        order = np.lexsort((log["entries"], neurons, log["sources"]))   # global neuron order is chip order
        return cls(sources=log["sources"][order], chips=chips[order], neurons=(neurons % g.NEURONS)[order],
                   entries=log["entries"][order], types=log["types"][order], weights=log["weights"][order])

    def rows(self) -> np.ndarray:
        """(r, 6) int64: source, chip, neuron, entry, type, weights per delivered event."""
        return np.stack([self.sources, self.chips, self.neurons, self.entries, self.types, self.weights],
                        axis=1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.sources)


def geometry(mesh: tuple[int, int]) -> dict:
    """``info().geometry`` of a board of this mesh."""
    return {"chips": mesh[0] * mesh[1], "mesh": [mesh[0], mesh[1]], "cores": g.CORES,
            "neurons_per_core": g.NEURONS_PER_CORE, "cam_entries": g.CAM_ENTRIES,
            "sram_destinations": g.SRAM_DESTINATIONS, "tag_bits": g.TAG_BITS}
