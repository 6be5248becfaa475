"""Interoperability with rockpool's Dynap-SE2 tools (docs/dynapse2.md#interoperability-with-rockpool).

rockpool (SynSense, AGPL; the ``peers`` extra pins it) simulates the chip with ``DynapSim`` and maps a
network onto it as a *specification*: a dictionary of per-core currents, per-core base weight currents
and 4-bit weight masks that its ``config_from_specification`` turns into a device configuration. This
module speaks both, from our side:

* :func:`dynapsim_currents` / :func:`with_dynapsim_currents`: a core's biases as the keyword currents
  ``DynapSim`` takes (A), and back;
* :func:`to_specification` / :func:`from_specification`: a :class:`hil.dynapse2.Config` as rockpool's
  quantised specification dictionary, and back;
* :func:`dynapsim_network` / :func:`dynapsim_run`: the DynapSim network that runs the same network as
  a configuration's neurons, and a run of it on an input raster (:func:`raster_stimulus` gives our
  board the same input; :func:`matched_spikes` compares the outputs).

Only the DynapSim side needs rockpool and jax, and imports them when called: the rig itself does not
depend on them. What the formats carry differently, and where the two simulators' equations differ,
is in the docs section named above.
"""
import importlib.metadata
import math
import numbers

import numpy as np

from emulator.dynapse2 import circuit, geometry as g

from ..contract import validation
from ..contract.errors import InvalidValue, RigError
from . import bias_current, bias_setting, mapping, models, quantisation
from .types import DEFAULT_BIASES, PARAMETERS, Config, RouteProbe, Stimulus

ROCKPOOL_VERSION = "3.1.0"
"""The rockpool release this module is written against (pyproject.toml's ``peers`` extra)."""

ISCALE = 1e-8
"""A: rockpool's default weight scale (``default_weights["Iscale"]``): a DynapSim weight w carries the
weight current w x Iscale."""

DYNAPSIM_CURRENTS = ("Idc", "If_nmda", "Igain_ahp", "Igain_mem", "Igain_syn", "Ipulse_ahp", "Ipulse", "Iref",
                     "Ispkthr", "Itau_ahp", "Itau_mem", "Itau_syn", "Iw_ahp")
"""The currents (A) a DynapSim layer and a specification's cores take, in rockpool's names. DynapSim has
one synapse where the chip has four: ``Igain_syn`` and ``Itau_syn`` are one synapse type's."""

WEIGHT_CURRENTS = quantisation.WEIGHT_PARAMETERS
"""Iw_0 .. Iw_3: a specification's per-core base weight currents (A)."""

SYNAPSE_TYPES = ("AMPA", "GABA")
"""The synapse types a specification holds: a sign of +1 is an AMPA entry, -1 a GABA entry (rockpool's
``WeightAllocator.get_dendrite``)."""

SPEC_KEYS = ("n_cluster", "core_map", "n_neuron", "Iscale", "weights_in", "sign_in", "weights_rec", "sign_rec",
             *WEIGHT_CURRENTS, *DYNAPSIM_CURRENTS, "neurons", "mesh")
"""The keys :func:`to_specification` writes. All but the last two are rockpool's (what its mapper and
``autoencoder_quantization`` produce and ``config_from_specification`` reads); ``neurons`` and ``mesh``
are ours, carrying the placement that rockpool's format leaves to its own rule (its functions take
extra keys and ignore them)."""

ROCKPOOL_ONLY_KEYS = ("mapped_graph", "unclustered", "quantization_loss")
"""Keys of rockpool's own specifications that say nothing about the configuration (the source graph,
the per-neuron currents before clustering, the quantiser's loss): :func:`from_specification` takes
and ignores them."""

_SYNAPSE_CURRENTS = {"Igain_syn": "Igain", "Itau_syn": "Itau"}
_CLUSTERS_MAX = g.MESH_MAX ** 2 * g.CORES


class RockpoolMissing(RigError, ModuleNotFoundError):
    """rockpool or jax is not installed: the ``peers`` extra brings them (``pip install -e '.[peers]'``,
    or ``tox -e peers``)."""


def _installed() -> str:
    out = []
    for name in ("rockpool", "jax", "jaxlib"):
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} not installed")
    return ", ".join(out)


def _rockpool():
    """rockpool's Dynap-SE2 package and the layers a network is built of, imported on first use."""
    try:
        from rockpool.devices.dynapse import DynapSim
        from rockpool.nn.combinators import JaxSequential
        from rockpool.nn.modules import LinearJax
        import jax
    except ImportError as exc:
        raise RockpoolMissing(f"DynapSim needs rockpool=={ROCKPOOL_VERSION} and jax (the 'peers' extra: pip install "
                              f"-e '.[peers]', or tox -e peers); installed: {_installed()} ({exc})") from None
    return DynapSim, JaxSequential, LinearJax, jax


# --- a core's currents -------------------------------------------------------------------------------

def _synapse(synapse) -> str:
    if synapse not in g.SYNAPSE_TYPES:
        raise InvalidValue("synapse", f"{synapse!r} is not a synapse type; allowed: {list(g.SYNAPSE_TYPES)}")
    return synapse


def _our_parameter(name: str, synapse: str) -> str:
    """Our core parameter that a DynapSim current is (Igain_syn and Itau_syn: ``synapse``'s)."""
    if name in _SYNAPSE_CURRENTS:
        return f"{_SYNAPSE_CURRENTS[name]}_{synapse.lower()}"
    return name


def _core(config: Config, chip, core) -> tuple[int, int]:
    if not isinstance(config, Config):
        raise InvalidValue("config", f"is {type(config).__name__}; expected a hil.dynapse2.Config")
    return (validation.integer("chip", chip, lo=0, hi=config.chips - 1),
            validation.integer("core", core, lo=0, hi=g.CORES - 1))


def dynapsim_currents(config: Config, chip: int, core: int, synapse: str = "AMPA") -> dict[str, float]:
    """{name: A} for every name of :data:`DYNAPSIM_CURRENTS`: the nominal currents
    (:func:`hil.dynapse2.bias_current`) of the biases of ``core`` (0..3) of ``chip``, as DynapSim's
    keyword arguments. ``Igain_syn`` and ``Itau_syn`` are those of the synapse type ``synapse`` (one of
    AMPA, GABA, NMDA, SHUNT; DynapSim's one synapse)."""
    chip, core = _core(config, chip, core)
    synapse = _synapse(synapse)
    out = {}
    for name in DYNAPSIM_CURRENTS:
        coarse, fine = config.bias(_our_parameter(name, synapse))[chip, core]
        out[name] = float(bias_current(_our_parameter(name, synapse), int(coarse), int(fine)))
    return out


def _amperes(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or float(value) < 0:
        raise InvalidValue(field, f"{value!r} is not a current; allowed: finite amperes >= 0")
    return float(value)


def with_dynapsim_currents(config: Config, currents: dict, chip: int, core: int) -> Config:
    """A copy of ``config`` whose ``core`` of ``chip`` has each current of ``currents`` ({name: A}, names
    of :data:`DYNAPSIM_CURRENTS` or Iw_0..Iw_3, any subset) at its nearest bias setting. ``Igain_syn`` and
    ``Itau_syn`` set all four synapse types, as rockpool's ``config_from_specification`` does."""
    chip, core = _core(config, chip, core)
    if not isinstance(currents, dict):
        raise InvalidValue("currents", f"is {type(currents).__name__}; expected {{name: amperes}}")
    allowed = (*DYNAPSIM_CURRENTS, *WEIGHT_CURRENTS)
    settings = {}
    for name, value in currents.items():
        if name not in allowed:
            raise InvalidValue("currents", f"{name!r} is not a DynapSim current; allowed: {', '.join(allowed)}")
        amps = _amperes(f"currents[{name!r}]", value)
        targets = [_our_parameter(name, s) for s in g.SYNAPSE_TYPES] if name in _SYNAPSE_CURRENTS else [name]
        for p in targets:
            settings[p] = bias_setting(p, amps)
    return config.with_biases(settings, chip=chip, core=core)


# --- the specification dictionary --------------------------------------------------------------------

def _deliveries(config: Config, neurons: np.ndarray, n_in: int) -> np.ndarray:
    """(r, 4) int64 rows (source, network neuron, synapse type, weight mask): every event the router
    delivers to the network's neurons for a spike of each of them (sources 0..n-1) and for input channel
    i (sources n + i) sent with tag i into every core that holds network neurons."""
    cores = np.unique(neurons // g.NEURONS_PER_CORE)
    tags = np.repeat(np.arange(n_in), len(cores))
    at = np.tile(cores, n_in)
    probe = RouteProbe(spike_chips=neurons // g.NEURONS, spike_neurons=neurons % g.NEURONS, input_tags=tags,
                       input_chips=at // g.CORES, input_cores=at % g.CORES)
    log = models.route(config, probe)
    position = np.full(config.chips * g.NEURONS, -1, np.int64)
    position[neurons] = np.arange(len(neurons))
    target = position[log.chips.astype(np.int64) * g.NEURONS + log.neurons]
    n = len(neurons)
    source = log.sources.astype(np.int64)
    source = np.where(source < n, source, n + (source - n) // max(len(cores), 1))
    return np.stack([source, target, log.types.astype(np.int64), log.weights.astype(np.int64)], axis=1)


def _masks(config: Config, neurons: np.ndarray, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_in + n, n) int64 weight masks and (n_in + n, n) float64 signs (+1 AMPA, -1 GABA) of the network
    on ``neurons``; sources are the input channels, then the neurons. ``mapping.network_from_config``
    has already refused what a network of single AMPA/GABA connections cannot hold."""
    n = len(neurons)
    rows = _deliveries(config, neurons, n_in)
    masks = np.zeros((n_in + n, n), np.int64)
    signs = np.zeros((n_in + n, n))
    source = np.where(rows[:, 0] < n, n_in + rows[:, 0], rows[:, 0] - n)
    masks[source, rows[:, 1]] = rows[:, 3]
    signs[source, rows[:, 1]] = np.where(rows[:, 2] == g.SYNAPSE_TYPES.index("AMPA"), 1.0, -1.0)
    return masks, signs


def _syn_type(config: Config, neurons: np.ndarray, chip: int, core: int, synapse) -> str:
    """The synapse type whose Igain and Itau stand for a core's Igain_syn and Itau_syn: ``synapse`` if
    given; else the types the core's network neurons use, which must then agree on both settings."""
    if synapse is not None:
        return _synapse(synapse)
    here = neurons[neurons // g.NEURONS_PER_CORE == chip * g.CORES + core]
    used = config.cam_weights[chip, here % g.NEURONS] != 0
    types = sorted(set(config.cam_type[chip, here % g.NEURONS][used].tolist())) or [0]
    first = g.SYNAPSE_TYPES[types[0]]
    for t in types[1:]:
        for kind in ("Igain", "Itau"):
            a, b = (config.bias(f"{kind}_{s.lower()}")[chip, core] for s in (first, g.SYNAPSE_TYPES[t]))
            if not np.array_equal(a, b):
                p = PARAMETERS.index(f"{kind}_{g.SYNAPSE_TYPES[t].lower()}")
                raise InvalidValue(f"biases[{chip}, {core}, {p}]",
                                   f"{kind}_{g.SYNAPSE_TYPES[t].lower()} {tuple(int(x) for x in b)} differs from "
                                   f"{kind}_{first.lower()} {tuple(int(x) for x in a)}, and both synapse types are in "
                                   f"use on this core; a specification has one {kind}_syn per core (pass synapse= "
                                   "to choose whose currents it takes)")
    return first


def to_specification(config: Config, neurons, n_in: int, *, iscale: float = ISCALE, synapse: str | None = None) -> dict:
    """rockpool's quantised specification of the network ``config`` runs on hardware neurons ``neurons``
    ((n,) global indices chip * 1024 + core * 256 + k, in network order) with ``n_in`` input channels
    (channel i: tag i, sent to the cores that hold entries for it): the dictionary rockpool's
    ``config_from_specification`` takes. Keys: :data:`SPEC_KEYS`.

    Clusters are global cores: cluster c is core c % 4 of chip c // 4 (rockpool's placement), so
    ``n_cluster`` is one more than the highest core holding a network neuron. Per cluster, as rockpool
    lists them: ``weights_in[c]`` (n_in, n) and ``weights_rec[c]`` (n, n) int64 masks 0..15 of the
    connections into cluster c's neurons (0 in other columns), ``sign_in[c]``, ``sign_rec[c]`` float64
    +1 AMPA, -1 GABA, 0 none; ``Iw_0[c]`` .. ``Iw_3[c]`` and each of :data:`DYNAPSIM_CURRENTS` a float
    (A). ``Igain_syn``/``Itau_syn``: see ``synapse`` below. ``core_map`` (n,) int64 each neuron's cluster,
    ``n_neuron`` n, ``Iscale`` ``iscale`` (A, > 0; used by simulation only), and ours: ``neurons`` (n,)
    int64 and ``mesh`` (width, height).

    ``synapse`` None: a core's Igain_syn and Itau_syn are those of the synapse types its neurons use, and
    they must agree (else an InvalidValue naming the bias); a type name: that type's, whatever the
    others hold. Refused as :func:`hil.dynapse2.mapping.network_from_config` refuses: NMDA and SHUNT
    entries, two entries or two paths for one connection, an entry no source reaches, and neurons
    outside ``neurons`` with anything in use."""
    net = mapping.network_from_config(config, neurons, n_in)      # validates (and names what it refuses)
    neurons = np.asarray(neurons, np.int64)
    iscale = validation.real("iscale", iscale, lo=1e-15, hi=1.0)
    n = len(neurons)
    masks, signs = _masks(config, neurons, net.n_in)
    cluster = neurons // g.NEURONS_PER_CORE
    n_cluster = int(cluster.max()) + 1
    spec = {"n_cluster": n_cluster, "core_map": cluster.copy(), "n_neuron": n, "Iscale": iscale}
    for name in ("weights_in", "sign_in", "weights_rec", "sign_rec"):
        spec[name] = []
    for c in range(n_cluster):
        cols = cluster == c
        m, s = np.where(cols, masks, 0), np.where(cols, signs, 0.0)
        spec["weights_in"].append(m[:net.n_in])
        spec["sign_in"].append(s[:net.n_in])
        spec["weights_rec"].append(m[net.n_in:])
        spec["sign_rec"].append(s[net.n_in:])
    for name in (*WEIGHT_CURRENTS, *DYNAPSIM_CURRENTS):
        spec[name] = []
    for c in range(n_cluster):
        chip, core = divmod(c, g.CORES)
        cur = dynapsim_currents(config, chip, core, _syn_type(config, neurons, chip, core, synapse))
        for k in WEIGHT_CURRENTS:
            spec[k].append(float(bias_current(k, *(int(x) for x in config.bias(k)[chip, core]))))
        for k in DYNAPSIM_CURRENTS:
            spec[k].append(cur[k])
    spec["neurons"] = neurons.copy()
    spec["mesh"] = (config.mesh_width, config.mesh_height)
    return spec


def _spec_int(spec: dict, key: str, lo: int, hi: int) -> int:
    value = spec[key]
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return validation.integer(key, value, lo=lo, hi=hi)


def _per_cluster(spec: dict, key: str, n_cluster: int) -> list:
    value = spec[key]
    if not isinstance(value, (list, tuple)) or len(value) != n_cluster:
        got = f"a {type(value).__name__} of {len(value)}" if isinstance(value, (list, tuple)) else type(value).__name__
        raise InvalidValue(key, f"is {got}; expected a list of {n_cluster} (one per cluster)")
    return list(value)


def _matrix(key: str, value, shape: tuple, lo: int, hi: int) -> np.ndarray:
    """An integer matrix of ``shape`` in lo..hi (floats only where whole), as int64; None: zeros."""
    if value is None:
        return np.zeros(shape, np.int64)
    a = np.asarray(value)
    if a.shape != shape:
        raise InvalidValue(key, f"has shape {a.shape}; expected {shape}")
    if a.size == 0:
        return np.zeros(shape, np.int64)
    return validation.integer_array(key, a, lo=lo, hi=hi, dtype=np.int64, shape=shape).copy()


def _weights(spec: dict, kind: str, n_cluster: int, core_map: np.ndarray, rows: int | None):
    """The masks (rows, n) and signs of ``weights_<kind>`` / ``sign_<kind>``, merged over clusters: each
    column only from its own cluster's matrix; None (no such weights) gives (0, n)."""
    n = len(core_map)
    w_key, s_key = f"weights_{kind}", f"sign_{kind}"
    w_list = spec.get(w_key)
    if w_list is None or all(v is None for v in _per_cluster(spec, w_key, n_cluster)):
        return np.zeros((0 if rows is None else rows, n), np.int64), np.zeros((0 if rows is None else rows, n))
    w_list = _per_cluster(spec, w_key, n_cluster)
    s_list = _per_cluster(spec, s_key, n_cluster) if spec.get(s_key) is not None else None
    if s_list is None:
        raise InvalidValue(s_key, f"is missing; {w_key} needs the signs of its connections")
    if rows is None:
        rows = next(np.shape(v)[0] for v in w_list if v is not None)
    masks, signs = np.zeros((rows, n), np.int64), np.zeros((rows, n))
    for c in range(n_cluster):
        m = _matrix(f"{w_key}[{c}]", w_list[c], (rows, n), 0, quantisation.LEVELS - 1)
        s = _matrix(f"{s_key}[{c}]", s_list[c], (rows, n), -1, 1) if w_list[c] is not None else np.zeros((rows, n))
        outside = np.argwhere((m != 0) & (core_map[None, :] != c))
        if outside.size:
            i, j = (int(x) for x in outside[0])
            raise InvalidValue(f"{w_key}[{c}][{i}, {j}]", f"mask {int(m[i, j])} into neuron {j} of cluster "
                                                          f"{int(core_map[j])}; a cluster's matrix holds only the "
                                                          "connections into its own neurons")
        unsigned = np.argwhere((m != 0) & (s == 0))
        if unsigned.size:
            i, j = (int(x) for x in unsigned[0])
            raise InvalidValue(f"{s_key}[{c}][{i}, {j}]", f"0 for a connection of mask {int(m[i, j])}; allowed: "
                                                          "+1 (AMPA) or -1 (GABA)")
        here = core_map == c
        masks[:, here], signs[:, here] = m[:, here], np.where(m[:, here] != 0, s[:, here], 0.0)
    return masks, signs


def _placement(spec: dict, core_map: np.ndarray, n_cluster: int):
    """(neurons, mesh): ours if the specification carries them, else rockpool's rule (cluster c on core
    c % 4 of chip c // 4, network neuron j on neuron j of its core; chips in a row)."""
    n = len(core_map)
    if spec.get("mesh") is not None:
        try:
            w, h = spec["mesh"]
        except (TypeError, ValueError):
            raise InvalidValue("mesh", f"{spec['mesh']!r} is not (width, height)") from None
        mesh = (validation.integer("mesh[0]", w, lo=1, hi=g.MESH_MAX), validation.integer("mesh[1]", h, lo=1,
                                                                                             hi=g.MESH_MAX))
    else:
        chips = -(-n_cluster // g.CORES)
        if chips > g.MESH_MAX:
            raise InvalidValue("n_cluster", f"{n_cluster} clusters need {chips} chips in a row; give 'mesh' "
                                            f"(allowed without it: up to {g.MESH_MAX * g.CORES} clusters)")
        mesh = (chips, 1)
    if n_cluster > mesh[0] * mesh[1] * g.CORES:
        raise InvalidValue("n_cluster", f"{n_cluster} clusters do not fit the {mesh[0]} x {mesh[1]} mesh's "
                                        f"{mesh[0] * mesh[1] * g.CORES} cores")
    if spec.get("neurons") is not None:
        neurons = validation.integer_array("neurons", spec["neurons"], lo=0, hi=mesh[0] * mesh[1] * g.NEURONS - 1,
                                           dtype=np.int64, shape=(n,))
        wrong = np.flatnonzero(neurons // g.NEURONS_PER_CORE != core_map)
        if wrong.size:
            j = int(wrong[0])
            raise InvalidValue(f"neurons[{j}]", f"hardware neuron {int(neurons[j])} is on core "
                                                f"{int(neurons[j] // g.NEURONS_PER_CORE)}; core_map puts network "
                                                f"neuron {j} on cluster {int(core_map[j])} (cluster c is global core c)")
        return np.array(neurons), mesh
    if n > g.NEURONS_PER_CORE:
        raise InvalidValue("n_neuron", f"{n} neurons; rockpool's placement (network neuron j on neuron j of its "
                                       f"cluster's core) holds {g.NEURONS_PER_CORE}; give 'neurons'")
    return core_map * g.NEURONS_PER_CORE + np.arange(n), mesh


def from_specification(spec: dict) -> Config:
    """The :class:`hil.dynapse2.Config` of a rockpool quantised specification (what its mapper and
    ``autoencoder_quantization`` produce, or :func:`to_specification`), written as rockpool's
    ``config_from_specification`` would: cluster c on core c % 4 of chip c // 4; each current of
    :data:`DYNAPSIM_CURRENTS` and Iw_0..Iw_3 at its nearest bias setting, Igain_syn and Itau_syn on all
    four synapse types; a mask > 0 a CAM entry of type AMPA (sign +1) or GABA (-1). Placement and mesh
    from ``neurons`` and ``mesh`` if given, else rockpool's (network neuron j on neuron j of its core,
    chips in a row). The routing is :func:`hil.dynapse2.mapping.config`'s canonical form (input channel
    i: tag i). Cores of no cluster keep :data:`hil.dynapse2.types.DEFAULT_BIASES`.

    Refused by key (:class:`hil.errors.InvalidValue`): unknown keys (known: :data:`SPEC_KEYS`,
    :data:`ROCKPOOL_ONLY_KEYS`), missing ones, lists not of ``n_cluster``, masks outside 0..15, a
    connection whose sign is 0, a mask in a cluster's matrix for another cluster's neuron, a negative
    or non-finite current, and what :mod:`hil.dynapse2.mapping` refuses (more than 64 sources into a
    neuron, ...)."""
    if not isinstance(spec, dict):
        raise InvalidValue("spec", f"is {type(spec).__name__}; expected rockpool's specification dictionary")
    unknown = sorted(set(spec) - set(SPEC_KEYS) - set(ROCKPOOL_ONLY_KEYS), key=str)
    if unknown:
        raise InvalidValue("spec", f"has unknown keys {unknown}; known: {', '.join((*SPEC_KEYS, *ROCKPOOL_ONLY_KEYS))}")
    required = ("n_cluster", "core_map", "weights_in", "weights_rec", *WEIGHT_CURRENTS, *DYNAPSIM_CURRENTS)
    missing = [k for k in required if k not in spec]
    if missing:
        raise InvalidValue("spec", f"lacks the keys {missing}; required: {', '.join(required)}")
    n_cluster = _spec_int(spec, "n_cluster", 1, _CLUSTERS_MAX)
    cm = np.asarray(spec["core_map"])
    core_map = validation.integer_array("core_map", cm, lo=0, hi=n_cluster - 1, dtype=np.int64, ndim=1).copy()
    n = len(core_map)
    if "n_neuron" in spec and _spec_int(spec, "n_neuron", 1, _CLUSTERS_MAX * g.NEURONS_PER_CORE) != n:
        raise InvalidValue("n_neuron", f"{spec['n_neuron']} differs from core_map's {n} neurons")
    if "Iscale" in spec:
        iscale = np.asarray(spec["Iscale"])
        if iscale.ndim != 0 or iscale.dtype.kind not in "iuf":
            raise InvalidValue("Iscale", f"{spec['Iscale']!r} is not one current; allowed: amperes 1e-15..1")
        validation.real("Iscale", float(iscale), lo=1e-15, hi=1.0)
    neurons, mesh = _placement(spec, core_map, n_cluster)
    masks_in, signs_in = _weights(spec, "in", n_cluster, core_map, None)
    masks_rec, signs_rec = _weights(spec, "rec", n_cluster, core_map, n)
    currents = {}
    for key in (*WEIGHT_CURRENTS, *DYNAPSIM_CURRENTS):
        currents[key] = [_amperes(f"{key}[{c}]", np.asarray(v).item() if isinstance(v, np.ndarray) else v)
                         for c, v in enumerate(_per_cluster(spec, key, n_cluster))]
    chips = mesh[0] * mesh[1]
    base = np.zeros((chips, g.CORES, quantisation.BASES, 2), np.uint8)
    base[:] = [DEFAULT_BIASES[p] for p in WEIGHT_CURRENTS]
    for c in range(n_cluster):
        for k, p in enumerate(WEIGHT_CURRENTS):
            base[c // g.CORES, c % g.CORES, k] = bias_setting(p, currents[p][c])
    q = mapping.Quantised(base_settings=base, masks_in=masks_in.astype(np.uint8), masks_rec=masks_rec.astype(np.uint8))
    levels = q.base_currents.reshape(-1, quantisation.BASES)
    lv = np.stack([quantisation.levels(row) for row in levels])[core_map]          # (n, 16) A
    w_in = signs_in * np.take_along_axis(lv.T, masks_in, axis=0) if masks_in.size else np.zeros(masks_in.shape)
    w_rec = signs_rec * np.take_along_axis(lv.T, masks_rec, axis=0)
    # The network's own parameters only shape the routing here: the biases are the specification's, below.
    placed = mapping.Specification(network=mapping.Network(w_in=w_in, w_rec=w_rec), neurons=neurons,
                                   core_parameters=np.broadcast_to([mapping.DEFAULTS[k] for k in
                                                                    mapping.NEURON_PARAMETERS],
                                                                   (chips, g.CORES, len(mapping.NEURON_PARAMETERS))),
                                   mesh_width=mesh[0], mesh_height=mesh[1])
    cfg = mapping.config(placed, q)
    biases = cfg.biases.copy()
    biases[:, :] = [DEFAULT_BIASES[p] for p in PARAMETERS]
    biases[:, :, [PARAMETERS.index(p) for p in WEIGHT_CURRENTS]] = base
    for c in range(n_cluster):
        for key in DYNAPSIM_CURRENTS:
            targets = [_our_parameter(key, s) for s in g.SYNAPSE_TYPES] if key in _SYNAPSE_CURRENTS else [key]
            for p in targets:
                biases[c // g.CORES, c % g.CORES, PARAMETERS.index(p)] = bias_setting(p, currents[key][c])
    return Config(biases=biases, sram_tag=cfg.sram_tag, sram_cores=cfg.sram_cores, sram_dx=cfg.sram_dx,
                  sram_dy=cfg.sram_dy, cam_tag=cfg.cam_tag, cam_type=cfg.cam_type, cam_weights=cfg.cam_weights,
                  mesh_width=mesh[0], mesh_height=mesh[1])


# --- DynapSim ----------------------------------------------------------------------------------------

def _cores(config: Config, chip, cores) -> tuple[int, list[int]]:
    chip = validation.integer("chip", chip, lo=0, hi=config.chips - 1)
    cores = list(range(g.CORES)) if cores is None else [validation.integer(f"cores[{i}]", c, lo=0, hi=g.CORES - 1)
                                                        for i, c in enumerate(cores)]
    if not cores or len(set(cores)) != len(cores):
        raise InvalidValue("cores", f"{cores!r}; expected distinct cores 0..{g.CORES - 1}, at least one")
    return chip, sorted(cores)


def network_neurons(chip: int = 0, cores=None) -> np.ndarray:
    """(256 x len(cores),) int64: the global indices of every neuron of ``cores`` (default all four) of
    ``chip``, in order: the neurons :func:`dynapsim_network` simulates, in its order."""
    chip = validation.integer("chip", chip, lo=0, hi=g.MESH_MAX ** 2 - 1)
    cores = list(range(g.CORES)) if cores is None else sorted(
        validation.integer(f"cores[{i}]", c, lo=0, hi=g.CORES - 1) for i, c in enumerate(cores))
    return np.concatenate([chip * g.NEURONS + c * g.NEURONS_PER_CORE + np.arange(g.NEURONS_PER_CORE) for c in cores])


def dynapsim_network(config: Config, *, n_in: int, chip: int = 0, cores=None, dt: float = 1e-3,
                     iscale: float = ISCALE, has_rec: bool | None = None):
    """rockpool's DynapSim network of the neurons of ``cores`` (default all four) of ``chip``, with the
    connections ``config`` gives them: a ``JaxSequential`` of a ``LinearJax`` (``n_in`` input channels,
    channel i: tag i into each of the cores) and a ``DynapSim`` layer, or the layer alone for n_in 0.

    Each neuron gets its core's currents (:func:`dynapsim_currents`, the AMPA synapse's as DynapSim's one
    synapse), the weights are our weight currents / ``iscale`` (A; DynapSim multiplies them back by its
    ``Iscale``), ``dt`` s the step, no mismatch, a fixed rng key. A GABA connection becomes a negative
    weight into DynapSim's one synapse (as rockpool's ``dynapsim_net_from_config`` reads one); ours
    subtracts a synapse of its own, so only AMPA networks are the same network. ``has_rec`` None: a
    recurrent weight matrix where there are recurrent connections. Refused: as
    :func:`hil.dynapse2.mapping.network_from_config` refuses, and with :class:`RockpoolMissing` without
    rockpool."""
    DynapSim, JaxSequential, LinearJax, jax = _rockpool()
    if not isinstance(config, Config):
        raise InvalidValue("config", f"is {type(config).__name__}; expected a hil.dynapse2.Config")
    chip, cores = _cores(config, chip, cores)
    dt = validation.real("dt", dt, lo=g.DT_MIN, hi=g.DT_MAX)
    iscale = validation.real("iscale", iscale, lo=1e-15, hi=1.0)
    neurons = network_neurons(chip, cores)
    net = mapping.network_from_config(config, neurons, n_in)
    per_core = [dynapsim_currents(config, chip, c) for c in cores]
    currents = {k: np.repeat([cur[k] for cur in per_core], g.NEURONS_PER_CORE) for k in DYNAPSIM_CURRENTS}
    n = len(neurons)
    rec = bool(np.any(net.w_rec)) if has_rec is None else bool(has_rec)
    layer = DynapSim((n, n), **currents, C_syn=circuit.LAYOUT["C_ampa"], Iscale=iscale, dt=dt, percent_mismatch=None,
                     has_rec=rec, w_rec=net.w_rec / iscale if rec else None, rng_key=jax.random.PRNGKey(0))
    if net.n_in == 0:
        return layer
    return JaxSequential(LinearJax((net.n_in, n), weight=net.w_in / iscale, has_bias=False), layer)


def dynapsim_run(module, input_raster, record: bool = False):
    """Runs ``module`` (from :func:`dynapsim_network`) on ``input_raster`` ((steps, n_in) event counts per
    step and input channel, or (steps, n) weighted inputs for a bare DynapSim layer) from its initial
    state. Returns the (steps, n) int64 spike counts (DynapSim counts ``ceil(ln(imem / Ispkthr))``
    spikes in a step where imem passes its threshold: 2 or more where imem overshoots it by e); with
    ``record``, also the DynapSim layer's recorded state {name: numpy array}."""
    _rockpool()
    raster = np.asarray(input_raster)
    if raster.ndim != 2 or raster.dtype.kind not in "iuf":
        raise InvalidValue("input_raster", f"is {raster.dtype} of shape {raster.shape}; expected (steps, channels) "
                                           "counts")
    want = module.size_in
    if raster.shape[1] != want:
        raise InvalidValue("input_raster", f"has {raster.shape[1]} channels; the network takes {want}")
    module = module.reset_state()
    out, _, rec = module(raster.astype(np.float32), record=record)
    counts = np.rint(np.asarray(out)[0]).astype(np.int64)
    if not record:
        return counts
    layer = next((v for k, v in rec.items() if k.endswith("DynapSim")), rec)
    return counts, {k: np.asarray(v)[0] for k, v in layer.items()}


def raster_stimulus(input_raster, *, dt: float = 1e-3, chip: int = 0, cores=None, record=None) -> Stimulus:
    """The :class:`hil.dynapse2.Stimulus` that gives our board what ``input_raster`` ((steps, n_in)
    non-negative event counts) gives :func:`dynapsim_network`: each event of channel i at step t, with
    tag i, into each of ``cores`` (default all four) of ``chip``."""
    raster = validation.integer_array("input_raster", input_raster, lo=0, hi=g.EVENTS_MAX, dtype=np.int64, ndim=2)
    cores = list(range(g.CORES)) if cores is None else sorted(cores)
    t, i = np.nonzero(raster)
    reps = raster[t, i]
    times, tags = np.repeat(t, reps), np.repeat(i, reps)
    events = len(times)
    times, tags = np.repeat(times, len(cores)), np.repeat(tags, len(cores))     # in time order, core by core
    at = np.tile(np.asarray(cores, np.int64), events)
    return Stimulus(times=times, tags=tags, chips=np.full(len(times), chip), cores=at, duration=raster.shape[0],
                    dt=dt, record=record)


def matched_spikes(times_a, neurons_a, times_b, neurons_b, tolerance: int = 1) -> int:
    """How many spikes of list a have a partner in list b: a spike of the same neuron at most
    ``tolerance`` steps away, each spike of b a partner of one spike of a at most (the largest such
    one-to-one matching: per neuron, in time order, the earlier unmatched spike is dropped)."""
    ta, na, tb, nb = (np.asarray(x, np.int64) for x in (times_a, neurons_a, times_b, neurons_b))
    tolerance = validation.integer("tolerance", tolerance, lo=0, hi=g.DURATION_MAX)
    matched = 0
    oa, ob = np.lexsort((ta, na)), np.lexsort((tb, nb))
    ta, na, tb, nb = ta[oa], na[oa], tb[ob], nb[ob]
    i = k = 0
    while i < len(ta) and k < len(tb):
        if na[i] != nb[k]:
            if na[i] < nb[k]:
                i += 1
            else:
                k += 1
        elif abs(ta[i] - tb[k]) <= tolerance:
            matched, i, k = matched + 1, i + 1, k + 1
        elif ta[i] < tb[k]:
            i += 1
        else:
            k += 1
    return matched
