"""Block bench of the event router (``rtl_models/dynapse2/router.v``), a cocotb test module run on
the harness ``router.v`` beside it by ``hil.rtl.dynapse2.benches.run_bench``. Configurations and
probes go to the harness in files (``hil.rtl.dynapse2.dut.RouterDut``), one line a clock, so Python
acts once per configuration and once per probe.

Every delivered event is compared, field for field and in its place in the stream, with the
routing as a pure function, ``hil.dynapse2.models.route`` (digital: exact). The RTL must emit the
log in its sorted order itself: nothing on the Python side sorts.

Checks:
random (digital, exact): constrained-random configurations of a 2 x 2 board (fixed seed): every
    destination on the mesh, a small pool of tags (0 and 2047 among them) so that CAM entries match
    often, most entries unused, several entries of one neuron with one tag; each with a probe of
    random spikes and input events, once back to back and once with bubbles on the sources and a
    stalling receiver.
corners (digital, exact): the empty probe; entries that hold the tag with weights 0 (never
    delivered); duplicates (four, or three, destinations of one spike with one tag into one core:
    every entry four, or three, times; two entries of one neuron with one tag); all four cores from
    one destination; destinations in descending chip order (the log ascends); from every chip of
    the 2 x 2 mesh a spike to every chip; input events into every core of every chip; tags 0 and
    2047; the 1 x 1 mesh (the same build, reconfigured).
off_mesh (digital, exact): raw configurations no Config accepts: destinations whose hops leave the
    mesh are dropped (and counted: ``dropped``) and the rest delivered as ``route`` delivers a
    configuration with those destinations off; sources on chips off the mesh are dropped whole.
refused_writes (digital, exact): mesh writes outside 1..4 or larger than the memories, rows of a
    chip beyond them, and writes of kind 3 are refused (counted: ``cfg_refused``), the mesh and the
    rows unchanged.
Coverage (cocotb-coverage; the last test fails unless every item is complete): the receiving chip x
core of the 2 x 2 board (16 bins), synapse type x weight mask (4 x 15), CAM entry (64), the copies of
one delivery (1..4), the hop (dx, dy) of a delivering destination (9 on the 2 x 2 mesh) and the
source kind (spike, input event).
"""
import cocotb
import numpy as np
from cocotb_coverage.coverage import CoverCross, CoverPoint

from emulator.dynapse2 import geometry as g
from hil.dynapse2 import models
from hil.dynapse2.types import PARAMETERS, Config, RouteProbe
from hil.rtl.benches import common
from hil.rtl.dynapse2 import router
from hil.rtl.dynapse2.dut import RouterDut

SEED = 0xD2_0019
B = "router"
REFERENCE = "hil.dynapse2.models.route (the routing as a pure function)"
MESH = (2, 2)
RANDOM_CONFIGS = 3
TAG_POOL = 24
"""Tags in use in a random configuration: few, so that CAM entries match often."""
CAM_USED = 0.03
"""The share of CAM entries in use (weights != 0) in a random configuration."""
SPIKES, INPUTS = 24, 24
"""Sources in a random probe."""
COVERAGE = (f"{B}.chip_x_core", f"{B}.type_x_weights", f"{B}.entry", f"{B}.copies", f"{B}.dx_x_dy",
            f"{B}.source_kind")

_report = None


def _the_report() -> common.Report:
    global _report
    if _report is None:
        _report = common.Report(common.settings())
        _report.coverage = list(COVERAGE)
    return _report


# -- coverage -------------------------------------------------------------------------------------
@CoverPoint(f"{B}.cc.chip", xf=lambda chip, core: chip, bins=list(range(4)))
@CoverPoint(f"{B}.cc.core", xf=lambda chip, core: core, bins=list(range(4)))
@CoverCross(f"{B}.chip_x_core", items=[f"{B}.cc.chip", f"{B}.cc.core"])
def _cover_chip_core(chip, core):
    """A delivery into (chip, core) of the 2 x 2 board."""


@CoverPoint(f"{B}.tw.type", xf=lambda t, w: t, bins=list(range(4)))
@CoverPoint(f"{B}.tw.weights", xf=lambda t, w: w, bins=list(range(1, 16)))
@CoverCross(f"{B}.type_x_weights", items=[f"{B}.tw.type", f"{B}.tw.weights"])
def _cover_type_weights(t, w):
    """A delivery's synapse type and weight mask."""


@CoverPoint(f"{B}.entry", bins=list(range(g.CAM_ENTRIES)))
def _cover_entry(e):
    """The CAM entry of a delivery."""


@CoverPoint(f"{B}.copies", bins=[1, 2, 3, 4])
def _cover_copies(n):
    """How often one delivery (same source, neuron, entry) came out."""


@CoverPoint(f"{B}.hop.dx", xf=lambda dx, dy: dx, bins=[0, 1, 2], bins_labels=["-1", "0", "1"])
@CoverPoint(f"{B}.hop.dy", xf=lambda dx, dy: dy, bins=[0, 1, 2], bins_labels=["-1", "0", "1"])
@CoverCross(f"{B}.dx_x_dy", items=[f"{B}.hop.dx", f"{B}.hop.dy"])
def _cover_hop(dx, dy):
    """The hop (dx + 1, dy + 1: sample_unique takes values >= 0) of a spike's destination that delivered."""


@CoverPoint(f"{B}.source_kind", bins=[0, 1], bins_labels=["spike", "input event"])
def _cover_kind(k):
    """The kind of a source that delivered."""


def _sample(rows: np.ndarray, arrays: dict, sources: router.Sources, mesh: tuple[int, int]) -> None:
    if not len(rows) or tuple(mesh) != MESH:
        return
    common.sample_unique(_cover_chip_core, rows[:, 1], rows[:, 2] // g.NEURONS_PER_CORE)
    common.sample_unique(_cover_type_weights, rows[:, 4], rows[:, 5])
    common.sample_unique(_cover_entry, rows[:, 3])
    _, counts = np.unique(rows, axis=0, return_counts=True)
    common.sample_unique(_cover_copies, np.minimum(counts, 4))
    m = len(sources.spike_chips)
    common.sample_unique(_cover_kind, (rows[:, 0] >= m).astype(np.int64))
    spikes = rows[rows[:, 0] < m]
    if len(spikes):
        # the hops of the destinations that reached each delivery's chip
        src = spikes[:, 0]
        c, n = sources.spike_chips[src].astype(np.int64), sources.spike_neurons[src].astype(np.int64)
        dx, dy = arrays["sram_dx"][c, n].astype(np.int64), arrays["sram_dy"][c, n].astype(np.int64)
        on = arrays["sram_cores"][c, n] != 0
        hit = on & ((c % MESH[0])[:, None] + dx + ((c // MESH[0])[:, None] + dy) * MESH[0] == spikes[:, 1:2])
        common.sample_unique(_cover_hop, dx[hit] + 1, dy[hit] + 1)



# -- stimulus -------------------------------------------------------------------------------------
def blank(chips: int) -> dict:
    """Configuration arrays of ``chips`` chips with no destination and every CAM entry unused."""
    n = g.NEURONS
    return {"sram_tag": np.zeros((chips, n, 4), np.uint16), "sram_cores": np.zeros((chips, n, 4), np.uint8),
            "sram_dx": np.zeros((chips, n, 4), np.int8), "sram_dy": np.zeros((chips, n, 4), np.int8),
            "cam_tag": np.zeros((chips, n, 64), np.uint16), "cam_type": np.zeros((chips, n, 64), np.uint8),
            "cam_weights": np.zeros((chips, n, 64), np.uint8)}


def config_of(arrays: dict, mesh: tuple[int, int]) -> Config:
    """The Config of ``arrays`` (default biases: the router reads none)."""
    chips = mesh[0] * mesh[1]
    biases = np.zeros((chips, g.CORES, len(PARAMETERS), 2), np.uint8)
    return Config(biases=biases, mesh_width=mesh[0], mesh_height=mesh[1], **arrays)


def probe_of(s: router.Sources) -> RouteProbe:
    return RouteProbe(spike_chips=s.spike_chips, spike_neurons=s.spike_neurons, input_tags=s.input_tags,
                      input_chips=s.input_chips, input_cores=s.input_cores)


def sources(spikes=(), inputs=()) -> router.Sources:
    """Sources from [(chip, neuron)] spikes and [(tag, chip, core)] input events."""
    sp = np.array(list(spikes), np.int64).reshape(-1, 2)
    ip = np.array(list(inputs), np.int64).reshape(-1, 3)
    return router.Sources(sp[:, 0].astype(np.uint8), sp[:, 1].astype(np.uint16), ip[:, 0].astype(np.uint16),
                          ip[:, 1].astype(np.uint8), ip[:, 2].astype(np.uint8))


def random_config(rng: np.random.Generator, mesh: tuple[int, int] = MESH) -> tuple[dict, np.ndarray]:
    """Constrained-random configuration arrays (every destination on the mesh) and the tag pool."""
    w, h = mesh
    chips = w * h
    pool = np.unique(np.concatenate([[0, g.TAGS - 1], rng.integers(1, g.TAGS - 1, TAG_POOL - 2)]))
    a = blank(chips)
    shape = a["sram_tag"].shape
    a["sram_tag"][:] = rng.choice(pool, shape)
    cores = rng.integers(1, 16, shape)
    cores[rng.random(shape) < 0.3] = 0
    a["sram_cores"][:] = cores
    target = rng.integers(0, chips, shape)
    src = np.arange(chips)[:, None, None]
    a["sram_dx"][:] = target % w - src % w
    a["sram_dy"][:] = target // w - src // w
    # a destination that is off keeps random hops (the router must ignore them), within -7..7
    off = cores == 0
    a["sram_dx"][off] = rng.integers(-7, 8, int(off.sum()))
    a["sram_dy"][off] = rng.integers(-7, 8, int(off.sum()))
    shape = a["cam_tag"].shape
    a["cam_tag"][:] = rng.choice(pool, shape)
    a["cam_type"][:] = rng.integers(0, 4, shape)
    weights = rng.integers(1, 16, shape)
    weights[rng.random(shape) >= CAM_USED] = 0
    a["cam_weights"][:] = weights
    # some entries with weights 0 hold the tags of the pool anyway: they must not deliver
    return a, pool


def random_sources(rng: np.random.Generator, pool: np.ndarray, chips: int) -> router.Sources:
    spikes = [(int(rng.integers(0, chips)), int(rng.integers(0, g.NEURONS))) for _ in range(SPIKES)]
    spikes += spikes[:2]                                # a neuron spiking twice
    inputs = [(int(rng.choice(pool)), int(rng.integers(0, chips)), int(rng.integers(0, 4))) for _ in range(INPUTS)]
    return sources(spikes, inputs)


# -- checks ---------------------------------------------------------------------------------------
FIELDS = ("source", "chip", "neuron", "entry", "type", "weights")


def _source_of(s: router.Sources, i: int) -> dict:
    m = len(s.spike_chips)
    if 0 <= i < m:
        return {"kind": "spike", "chip": int(s.spike_chips[i]), "neuron": int(s.spike_neurons[i])}
    j = i - m
    if 0 <= j < len(s.input_tags):
        return {"kind": "input", "tag": int(s.input_tags[j]), "chip": int(s.input_chips[j]),
                "core": int(s.input_cores[j])}
    return {"kind": "none"}


def compare(dut, check: str, case: str, rows: np.ndarray, want: np.ndarray, s: router.Sources) -> int:
    """Records the rows against the reference's, place by place (a row missing or extra is a
    mismatch); returns the number of mismatches."""
    n = max(len(rows), len(want))
    got_p = np.full((n, 6), -1, np.int64)
    want_p = np.full((n, 6), -1, np.int64)
    got_p[:len(rows)] = rows
    want_p[:len(want)] = want
    bad = (got_p != want_p).any(axis=1)

    def detail(j):
        src = int(want_p[j, 0] if want_p[j, 0] >= 0 else got_p[j, 0])
        return {"case": case, "place": j, "source_index": src, "source": _source_of(s, src),
                "rtl": dict(zip(FIELDS, got_p[j].tolist())) if j < len(rows) else None,
                "reference": dict(zip(FIELDS, want_p[j].tolist())) if j < len(want) else None}

    _the_report().check(f"{B}.{check}", "digital", "exact", REFERENCE).add(bad, bad.astype(float), detail)
    for j in np.flatnonzero(bad)[:5]:
        dut._log.error("%s %s: %s", check, case, detail(int(j)))
    return int(bad.sum())


def _status_check(check: str, case: str, name: str, got: int, want: int) -> int:
    bad = np.array([got != want])
    _the_report().check(f"{B}.{check}", "digital", "exact", REFERENCE).add(
        bad, bad.astype(float), lambda j: {"case": case, "status": name, "rtl": got, "reference": want})
    return int(bad.sum())


async def route_and_compare(dut, r: RouterDut, check: str, case: str, arrays: dict, mesh, s: router.Sources,
                            *, reference=None, dropped: int = 0, gaps=False, stall=False) -> int:
    """Routes ``s`` on the RTL and compares with ``route`` of the configuration (or the given
    reference Config); the router's count of dropped destinations must be ``dropped``."""
    rows, status = await r.route(s, gaps=gaps, stall=stall)
    cfg = reference if reference is not None else config_of(arrays, mesh)
    want = models.route(cfg, probe_of(s)).rows() if reference is not False else np.zeros((0, 6), np.int64)
    bad = compare(dut, check, case, rows, want, s)
    bad += _status_check(check, case, "sources", status.sources, len(s))
    bad += _status_check(check, case, "dropped", status.dropped, dropped)
    _sample(rows, arrays, s, mesh)
    report = _the_report()
    report.figures[f"{check}_deliveries"] = report.figures.get(f"{check}_deliveries", 0) + len(rows)
    report.figures[f"{check}_sources"] = report.figures.get(f"{check}_sources", 0) + len(s)
    report.figures[f"{check}_cycles"] = report.figures.get(f"{check}_cycles", 0) + status.cycles
    dut._log.info("%s %s: %d sources, %d deliveries, %d clocks", check, case, len(s), len(rows), status.cycles)
    return bad


async def configure(r: RouterDut, check: str, case: str, arrays: dict, mesh) -> int:
    status = await r.configure(arrays, mesh)
    return (_status_check(check, case, "cfg_refused", status.cfg_refused, 0)
            + _status_check(check, case, "mesh", int(status.mesh != tuple(mesh)), 0))


def _finish(dut, check: str, bad: int) -> None:
    _the_report().write()
    assert bad == 0, f"{check}: {bad} mismatches against {REFERENCE}"


# -- tests ----------------------------------------------------------------------------------------
@cocotb.test()
async def random_configurations(dut):
    """Constrained-random configurations and probes (fixed seed), back to back and with bubbles and
    a stalling receiver."""
    r = RouterDut(dut, common.settings()["workdir"])
    rng = np.random.default_rng(SEED)
    bad = 0
    for k in range(RANDOM_CONFIGS):
        arrays, pool = random_config(rng)
        bad += await configure(r, "random", f"config {k}", arrays, MESH)
        s = random_sources(rng, pool, 4)
        bad += await route_and_compare(dut, r, "random", f"config {k} probe 0", arrays, MESH, s)
        s = random_sources(rng, pool, 4)
        bad += await route_and_compare(dut, r, "random", f"config {k} probe 1 (gaps, stall)", arrays, MESH, s,
                                       gaps=True, stall=True)
    _finish(dut, "random", bad)


def corner_config() -> dict:
    """The corner cases' configuration of the 2 x 2 board (see the module docstring)."""
    a = blank(4)
    # receivers of tag 5 in every core of every chip, at neuron 7 of the core, entry 3 (weights by chip)
    for chip in range(4):
        for core in range(4):
            n = core * 256 + 7
            a["cam_tag"][chip, n, 3] = 5
            a["cam_type"][chip, n, 3] = core
            a["cam_weights"][chip, n, 3] = 1 + (chip + 4 * core) % 15
    # chip 0 core 1: neuron 300 holds tag 2047 in entries 0 and 63 (two matches of one neuron) and in
    # entries 10..12 with weights 0 (unused: never delivered); neuron 301 tag 0 with weights 15
    for e, wts in ((0, 9), (63, 15), (10, 0), (11, 0), (12, 0)):
        a["cam_tag"][0, 300, e], a["cam_type"][0, 300, e], a["cam_weights"][0, 300, e] = 2047, e % 4, wts
    a["cam_tag"][0, 301, 5], a["cam_type"][0, 301, 5], a["cam_weights"][0, 301, 5] = 0, 3, 15
    a["cam_tag"][0, 302, 6], a["cam_weights"][0, 302, 6] = 0, 0          # tag 0, unused
    # from every chip c: neuron 10 sends tag 5 to every chip, in descending chip order over its slots,
    # to all four cores
    for c in range(4):
        for slot, target in enumerate((3, 2, 1, 0)):
            a["sram_tag"][c, 10, slot] = 5
            a["sram_cores"][c, 10, slot] = 15
            a["sram_dx"][c, 10, slot] = target % 2 - c % 2
            a["sram_dy"][c, 10, slot] = target // 2 - c // 2
    # chip 0 neuron 20: four destinations, one tag (2047), into chip 0 core 1: four copies of each entry
    for slot in range(4):
        a["sram_tag"][0, 20, slot], a["sram_cores"][0, 20, slot] = 2047, 0b0010
    # chip 0 neuron 21: three of them with tag 2047 (three copies) and one with tag 0 (one)
    for slot, tag in enumerate((2047, 0, 2047, 2047)):
        a["sram_tag"][0, 21, slot], a["sram_cores"][0, 21, slot] = tag, 0b0010
    # chip 3 neuron 1023: tags 2047 and 0 into chip 0 core 1 (from (1, 1): hops -1, -1), and one
    # destination off with hops that would leave the mesh (ignored)
    a["sram_tag"][3, 1023, 0], a["sram_cores"][3, 1023, 0] = 2047, 0b0010
    a["sram_dx"][3, 1023, 0], a["sram_dy"][3, 1023, 0] = -1, -1
    a["sram_tag"][3, 1023, 2], a["sram_cores"][3, 1023, 2] = 0, 0b0010
    a["sram_dx"][3, 1023, 2], a["sram_dy"][3, 1023, 2] = -1, -1
    a["sram_dx"][3, 1023, 3], a["sram_dy"][3, 1023, 3] = 7, 7
    return a


@cocotb.test()
async def corners(dut):
    """The corner cases of the module docstring, on the 2 x 2 board and on the 1 x 1 board."""
    r = RouterDut(dut, common.settings()["workdir"])
    bad = 0
    a = corner_config()
    bad += await configure(r, "corners", "2 x 2", a, MESH)
    cases = {
        "empty probe": sources(),
        "every chip to every chip, all cores": sources(spikes=[(c, 10) for c in range(4)]),
        "four copies, three copies": sources(spikes=[(0, 20), (0, 21)]),
        "two matches of one neuron, tags 2047 and 0, weights 0 unused": sources(spikes=[(3, 1023)]),
        "input events into every core of every chip": sources(
            inputs=[(5, c, k) for c in (3, 1, 0, 2) for k in (2, 0, 3, 1)]),
        "input events with tags 2047 and 0, no receiver": sources(
            inputs=[(2047, 0, 1), (0, 0, 1), (2047, 1, 1), (0, 0, 0), (6, 0, 0)]),
        "spikes without destinations, mixed": sources(spikes=[(1, 0), (0, 20), (2, 999)],
                                                      inputs=[(5, 0, 0)]),
    }
    for case, s in cases.items():
        bad += await route_and_compare(dut, r, "corners", case, a, MESH, s)
    # the 1 x 1 board, in the same build: chip 0 of the configuration alone
    one = {k: v[:1].copy() for k, v in a.items()}
    for slot in range(4):               # every destination of chip 0 stays on chip 0 (hops 0)
        one["sram_dx"][0, 10, slot] = one["sram_dy"][0, 10, slot] = 0
    bad += await configure(r, "corners", "1 x 1", one, (1, 1))
    cases = {
        "1 x 1: all cores": sources(spikes=[(0, 10)]),
        "1 x 1: four copies, input events": sources(spikes=[(0, 20)], inputs=[(5, 0, k) for k in range(4)]),
        "1 x 1: empty probe": sources(),
    }
    for case, s in cases.items():
        bad += await route_and_compare(dut, r, "corners", case, one, (1, 1), s)
    _finish(dut, "corners", bad)


@cocotb.test()
async def off_mesh(dut):
    """Destinations that leave the mesh and sources on chips off the mesh are dropped and counted."""
    r = RouterDut(dut, common.settings()["workdir"])
    rng = np.random.default_rng(SEED + 1)
    bad = 0
    for mesh in ((2, 2), (2, 1), (1, 2)):
        chips = mesh[0] * mesh[1]
        a, pool = random_config(rng, mesh)
        # a quarter of the destinations get hops that leave the mesh (-7..7 beyond its edge)
        shape = a["sram_dx"].shape
        leave = rng.random(shape) < 0.25
        src = np.arange(chips)[:, None, None] + np.zeros(shape, np.int64)
        x = src % mesh[0]
        far_x = np.where(rng.random(shape) < 0.5, -1 - x - rng.integers(0, 7 - mesh[0] + 1, shape),
                         mesh[0] - x + rng.integers(0, 7 - mesh[0] + 1, shape))
        far_x = np.clip(far_x, -7, 7)
        a["sram_dx"][leave] = far_x[leave]
        bad += await configure(r, "off_mesh", f"{mesh}", a, mesh)
        # the same configuration with the leaving destinations off: what must arrive
        kept = {k: v.copy() for k, v in a.items()}
        kept["sram_cores"][leave] = 0
        kept["sram_dx"][leave] = 0
        s = random_sources(rng, pool, chips)
        c, n = s.spike_chips.astype(np.int64), s.spike_neurons.astype(np.int64)
        lost = int(((a["sram_cores"][c, n] != 0) & leave[c, n]).sum())
        bad += await route_and_compare(dut, r, "off_mesh", f"{mesh} hops off the mesh", a, mesh, s,
                                       reference=config_of(kept, mesh), dropped=lost)
    # sources on chips off a 2 x 1 mesh (chips 2 and 3 lie beyond it; the memories hold 4): dropped
    a, pool = random_config(rng, (2, 1))
    bad += await configure(r, "off_mesh", "2 x 1", a, (2, 1))
    s = sources(spikes=[(2, 5), (0, 5), (3, 9), (15, 0)], inputs=[(int(pool[0]), 3, 1), (int(pool[0]), 1, 2)])
    on = sources(spikes=[(0, 5)], inputs=[(int(pool[0]), 1, 2)])
    rows, status = await r.route(s)
    want = models.route(config_of(a, (2, 1)), probe_of(on)).rows()
    # the sources keep their numbers: spike 1 is source 1, input 1 is source 5
    want[:, 0] = np.where(want[:, 0] == 0, 1, 5)
    bad += compare(dut, "off_mesh", "sources off the mesh", rows, want, s)
    bad += _status_check("off_mesh", "sources off the mesh", "dropped", status.dropped, 4)
    bad += _status_check("off_mesh", "sources off the mesh", "sources", status.sources, 6)
    _finish(dut, "off_mesh", bad)


@cocotb.test()
async def refused_writes(dut):
    """Mesh writes outside 1..4 or beyond the memories, rows beyond them, kind 3: refused, nothing changed."""
    r = RouterDut(dut, common.settings()["workdir"])
    bad = 0
    a = corner_config()
    bad += await configure(r, "refused_writes", "2 x 2", a, MESH)
    lines = [f"0 0 {router.mesh_word(w, h):x}" for w, h in ((0, 1), (1, 0), (5, 1), (1, 7), (3, 2), (4, 4))]
    lines += [f"2 {4 * 1024 + 7:x} {'f' * 272}", f"1 {15 * 1024:x} {'f' * 23}", f"3 0 {router.mesh_word(1, 1):x}"]
    status = await r.write(lines)
    bad += _status_check("refused_writes", "bad writes", "cfg_refused", status.cfg_refused, len(lines))
    bad += _status_check("refused_writes", "bad writes", "mesh", int(status.mesh != MESH), 0)
    s = sources(spikes=[(c, 10) for c in range(4)], inputs=[(5, c, k) for c in range(4) for k in range(4)])
    bad += await route_and_compare(dut, r, "refused_writes", "after the refused writes", a, MESH, s)
    _finish(dut, "refused_writes", bad)


@cocotb.test()
async def coverage_complete(dut):
    """Every coverage item is complete (runs last)."""
    common.check_coverage_complete(_the_report(), COVERAGE, dut._log.info)
