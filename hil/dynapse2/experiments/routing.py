"""``dynapse2.routing``: random SRAM/CAM configurations and random spikes and input events through the
router, every delivered event checked exactly against the routing model (docs/dynapse2.md#routing)."""
import numpy as np

from emulator.dynapse2 import geometry as g

from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric
from ..models import route
from ..types import Config, RouteProbe

EXACT = "exact: the router is digital; the model's deliveries are the only right ones"


def random_routing(rng: np.random.Generator, mesh: tuple[int, int], tags: int, density: float) -> Config:
    """A random configuration of a board of ``mesh``: every neuron's 4 destinations with random tags
    0..tags-1, core masks (a quarter of them 0: off) and hops to a random chip of the mesh; every CAM entry
    a random tag 0..tags-1, synapse type and weight mask, a fraction ``density`` of them in use."""
    w, h = mesh
    chips = w * h
    c = Config.default(mesh)
    shape4, shape64 = (chips, g.NEURONS, g.SRAM_DESTINATIONS), (chips, g.NEURONS, g.CAM_ENTRIES)
    src = np.arange(chips)[:, None, None]
    dest = rng.integers(0, chips, shape4)
    cores = rng.integers(1, 1 << g.CORES, shape4) * (rng.random(shape4) < 0.75)
    used = rng.random(shape64) < density
    return Config(biases=c.biases, sram_tag=rng.integers(0, tags, shape4), sram_cores=cores,
                  sram_dx=dest % w - src % w, sram_dy=dest // w - src // w,
                  cam_tag=rng.integers(0, tags, shape64), cam_type=rng.integers(0, len(g.SYNAPSE_TYPES), shape64),
                  cam_weights=rng.integers(1, 1 << g.WEIGHT_CURRENTS, shape64) * used, mesh_width=w, mesh_height=h)


def random_probe(rng: np.random.Generator, chips: int, spikes: int, inputs: int, tags: int) -> RouteProbe:
    """``spikes`` spikes of random neurons of the board and ``inputs`` input events with random tags 0..tags-1."""
    return RouteProbe(spike_chips=rng.integers(0, chips, spikes), spike_neurons=rng.integers(0, g.NEURONS, spikes),
                      input_tags=rng.integers(0, tags, inputs), input_chips=rng.integers(0, chips, inputs),
                      input_cores=rng.integers(0, g.CORES, inputs))


def _keys(rows: np.ndarray) -> np.ndarray:
    """Each delivery (source, chip, neuron, entry, type, weights) as one int64, in the same order."""
    widths = (4, 10, 6, 2, 4)                    # chip, neuron, entry, type, weights
    key = rows[:, 0].astype(np.int64)
    for column, bits in enumerate(widths, start=1):
        key = (key << bits) | rows[:, column]
    return key


def _multiset_difference(a: np.ndarray, b: np.ndarray) -> int:
    """Rows in a and not in b plus rows in b and not in a, counting repeats."""
    ka, kb = _keys(a), _keys(b)
    values = np.unique(np.concatenate([ka, kb]))
    counts = [np.bincount(np.searchsorted(values, k), minlength=len(values)) for k in (ka, kb)]
    return int(np.abs(counts[0] - counts[1]).sum())


@experiment("dynapse2.routing", mode="routing", metrics=("wrong_deliveries", "misordered_deliveries", "deliveries"),
            params={"seed": (0, 2**31 - 1), "configs": (1, 64), "spikes": (0, 65536), "inputs": (0, 65536),
                    "tags": (1, g.TAGS), "density": (0.0, 1.0)})
def routing(backend, *, seed: int = 0, configs: int = 4, spikes: int = 128, inputs: int = 128, tags: int = 64,
            density: float = 0.1, progress: bool = False) -> ExperimentResult:
    """Random SRAM/CAM configurations and events through the router, every delivered event checked exactly.

    Each of ``configs`` seeded random configurations (:func:`random_routing`: destinations on every chip
    of the board's mesh and every core, tags 0..tags-1 so that events match) is written, and ``spikes``
    random neurons' spikes and ``inputs`` random input events are routed (mode 'routing'). The deliveries
    (source, chip, neuron, CAM entry, synapse type, weight mask) must be the model's
    (:func:`hil.dynapse2.models.route`), as a multiset and in its order."""
    mesh = tuple(backend.info().geometry["mesh"])
    rng = np.random.default_rng(seed)
    wrong = misordered = total = 0
    per_config = []
    for k in range(configs):
        config = random_routing(rng, mesh, tags, density)
        probe = random_probe(rng, config.chips, spikes, inputs, tags)
        backend.configure(config)
        log = backend.run(probe)
        want = route(config, probe).rows()
        got = log.rows()
        bad = _multiset_difference(got, want)
        order = int(bad == 0 and not np.array_equal(got, want))
        wrong, misordered, total = wrong + bad, misordered + order, total + len(want)
        per_config.append([len(want), len(got), bad])
        if progress:
            print(f"  config {k + 1}/{configs}: {len(want)} deliveries, {bad} wrong", flush=True)
    table = np.array(per_config, np.int64)
    detail = f"{configs} random configurations of a {mesh[0]} x {mesh[1]} mesh, {spikes} spikes and {inputs} inputs each"
    metrics = (
        Metric("wrong_deliveries", wrong, limit=0, source="exact: the routing model", unit="events",
               detail=f"deliveries missing or extra against the model; {detail}", no_interval=EXACT),
        Metric("misordered_deliveries", misordered, limit=0, source="exact: the routing model", unit="configs",
               detail="configurations whose deliveries are right but not in (source, chip, neuron, entry) order",
               no_interval=EXACT),
        Metric("deliveries", total, unit="events", detail="deliveries the model expects, over all configurations",
               no_interval=EXACT),
    )
    return ExperimentResult(
        experiment="dynapse2.routing", params={"seed": seed, "configs": configs, "spikes": spikes, "inputs": inputs,
                                               "tags": tags, "density": density},
        raw={"per_config": table}, prediction={"deliveries": table[:, 0]}, metrics=metrics,
        model={"model": {"class": "hil.dynapse2.models.route", "note": "digital: exact"}},
        summary={"columns": ["expected", "delivered", "wrong"]})
