"""The coverage campaign: its fault classes draw valid faults reproducibly, on the chip's edges and
above their floors; a small campaign runs and reports rates with exact Clopper-Pearson intervals;
certificates state the coverage measured for their spec file, or that none was.

The full campaign is a benchmark (bench/acceptance_coverage.py), not a test.
"""
import json
import math
import shutil

import pytest
from scipy import stats

from emulator.bss2 import Faults
from emulator.bss2 import geometry as g
from hil.acceptance import certificate_document, default_spec_path, load_spec, run_acceptance
from hil.acceptance import campaign as c
from hil.acceptance.certificate import NO_COVERAGE, coverage_document, render_certificate
from hil.backends.emulator import EmulatorBackend
from hil.errors import InvalidValue
from hil.server.faults import fault_args, parse_faults

V1 = default_spec_path().parent / "bss2-acceptance-v1.toml"
SPEC = load_spec(V1)   # v1: its four model limits and 14 numeric ones are pinned below
DRAWS = 200


def _only(faults: Faults, field: str):
    """The single fault of ``faults``, which must sit in ``field`` and nowhere else."""
    entries = {f: getattr(faults, f) for f in Faults.__dataclass_fields__ if getattr(faults, f)}
    assert list(entries) == [field] and len(entries[field]) == 1, entries
    return entries[field][0]


def test_one_class_per_faults_field():
    assert sorted({k.field for k in c.FAULT_CLASSES}) == sorted(Faults.__dataclass_fields__)
    assert len(set(c.CLASS_NAMES)) == len(c.CLASS_NAMES) == 12


@pytest.mark.parametrize("cls", c.FAULT_CLASSES, ids=lambda k: k.name)
def test_draws_are_reproducible_valid_and_round_trip_the_wire_syntax(cls):
    draws = c.draw_faults(cls, DRAWS, seed=7)
    assert draws == c.draw_faults(cls, DRAWS, seed=7)
    assert draws != c.draw_faults(cls, DRAWS, seed=8)
    # the first draws do not depend on how many are drawn
    assert c.draw_faults(cls, 5, seed=7) == draws[:5]
    for f in draws:
        _only(f, cls.field)                                    # Faults() validated the ranges
        assert parse_faults(fault_args(f))[0] == f             # what hil serve --fault receives


def _hemisphere_and_edges(cls, fault):
    """(hemisphere, is at the last edge, is at the first edge) of one drawn fault."""
    cols = g.COLUMNS_PER_HEMISPHERE
    if cls.field in ("stuck_bits", "stuck_label_bits"):
        return (fault.hemisphere, (fault.row, fault.column) == (g.ROWS_PER_HEMISPHERE - 1, cols - 1),
                (fault.row, fault.column) == (0, 0))
    if cls.field in ("dead_drivers", "full_pulse_drivers"):
        return fault[0], fault[1] == g.DRIVERS_PER_HEMISPHERE - 1, fault[1] == 0
    if cls.field == "missing_codes":
        return 0, fault == g.CADC_CODES - 1, fault == 1
    if cls.field == "shorted_columns":
        return fault // cols, fault % cols == cols - 2, fault % cols == 0
    n = fault if isinstance(fault, int) else fault[0] if isinstance(fault, tuple) else fault.neuron
    return n // cols, n == g.NEURONS - 1, n == 0


@pytest.mark.parametrize("cls", c.FAULT_CLASSES, ids=lambda k: k.name)
def test_draws_cover_hemisphere_1_and_both_edges(cls):
    draws = [_only(f, cls.field) for f in c.draw_faults(cls, DRAWS, seed=0)]
    where = [_hemisphere_and_edges(cls, f) for f in draws]
    assert where[0][1] and where[1][2]                        # the first two draws: last, then first corner
    if cls.field != "missing_codes":                          # codes have no hemisphere
        assert where[0][0] == g.HEMISPHERES - 1 and where[1][0] == 0
        # the random draws reach both hemispheres (P(all 198 in one) = 2**-197)
        assert {h for h, _, _ in where[2:]} == {0, 1}


def _size(cls, fault) -> float:
    """The fault's size in the unit of its class's floor."""
    if cls.field in ("noisy_neurons", "cadc_offsets"):
        return abs(fault[1])
    if cls.field == "cadc_slopes":
        return abs(fault[1] - 1.0)
    raise AssertionError(f"{cls.name} has no floor")


FLOORS = {"noisy-neuron": c.NOISY_SIGMA_FLOOR, "cadc-offset": c.CADC_OFFSET_FLOOR,
          "cadc-slope": c.CADC_SLOPE_FLOOR}


@pytest.mark.parametrize("cls", c.FAULT_CLASSES, ids=lambda k: k.name)
def test_draws_stay_above_the_floor_and_below_floor_draws_below_it(cls):
    assert cls.has_floor == (cls.name in FLOORS)
    below = c.draw_faults(cls, DRAWS, seed=0, below_floor=True)
    if cls.name not in FLOORS:
        assert below == ()                                     # nothing lies below "none"
        return
    floor = FLOORS[cls.name]
    sizes = [_size(cls, _only(f, cls.field)) for f in c.draw_faults(cls, DRAWS, seed=0)]
    # 1e-12: |factor - 1| of a factor of 0.92 is 0.07999999999999996 in floating point
    assert min(sizes) >= floor - 1e-12
    low = [_size(cls, _only(f, cls.field)) for f in below]
    assert 0 < min(low) and max(low) < floor


def test_weight_bit_classes_draw_their_value_and_every_bit():
    for value in (0, 1):
        bits = [_only(f, "stuck_bits") for f in c.draw_faults(c.fault_class(f"weight-bit-stuck-{value}"), DRAWS, 0)]
        assert {b.value for b in bits} == {value}
        assert {b.bit for b in bits} == set(range(g.WEIGHT_BITS))


def test_unknown_class_and_bad_config_are_refused_by_name():
    with pytest.raises(InvalidValue, match="'stuck-everything' is not a fault class"):
        c.fault_class("stuck-everything")
    with pytest.raises(InvalidValue, match="healthy"):
        c.CampaignConfig(healthy=-1)
    with pytest.raises(InvalidValue, match="transport"):
        c.CampaignConfig(transport="carrier-pigeon")


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (1, 200), (0, 200), (37, 50)])
def test_clopper_pearson_equals_scipy_exact_interval(k, n):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    r = c.clopper_pearson(k, n)
    assert (r.k, r.n) == (k, n)
    assert r.low == pytest.approx(ci.low, abs=1e-12) and r.high == pytest.approx(ci.high, abs=1e-12)


def test_v1_board_false_alarm_is_its_four_model_limits_at_1e_3():
    alarms = c.limit_alarms(SPEC)
    model = [a.key for a in alarms if a.limit_from == "model"]
    assert sorted(model) == ["bss2.cadc_code_density.dnl_max", "bss2.mac_linearity.input_residual_rms_max",
                             "bss2.mac_linearity.weight_residual_rms_max", "bss2.mac_noise.non_normal_neurons"]
    assert all(a.alpha is None for a in alarms if a.limit_from == "spec")   # v1 states no rate of its own
    assert c.board_false_alarm(alarms) == pytest.approx(1 - (1 - 1e-3) ** 4, rel=1e-12)


@pytest.fixture(scope="module")
def small_campaign():
    """Two faults (the two corners) of two classes, one below the floor, and two healthy serials, in-process."""
    config = c.CampaignConfig(faults_per_class=2, healthy=2, classes=("dead-neuron", "noisy-neuron"),
                              below_floor_per_class=1, transport="emulator")
    return c.run_campaign(SPEC, config, progress=False)


def test_small_campaign_report(small_campaign, tmp_path):
    r = small_campaign
    assert [k.name for k in r.classes] == ["dead-neuron", "noisy-neuron"]
    assert len(r.boards) == 2 * 2 + 1 + 2                     # below-floor boards only for noisy-neuron
    assert len({b.serial for b in r.boards}) == len(r.boards)
    dead = r.classes[0]
    # v1 judges dead_neurons <= 0: both corners (neurons 511 and 0) are caught by it
    assert (dead.caught.k, dead.caught.n) == (2, 2) and dict(dead.metrics)["bss2.mac_fixed_pattern.dead_neurons"] == 2
    assert (dead.caught.low, dead.caught.high) == (c.clopper_pearson(2, 2).low, 1.0)
    assert r.classes[1].below_floor.n == 1 and r.classes[0].below_floor.n == 0
    for k in r.classes:
        assert k.errors == 0 and k.caught.n == 2
        assert len(k.missed) == k.caught.n - k.caught.k
    assert r.false_reject.n == 2
    assert r.predicted_false_reject == pytest.approx(1 - (1 - 1e-3) ** 4)
    assert r.consistency in ("consistent", "above", "below")

    paths = c.write_campaign(r, tmp_path / "out")
    doc = json.loads(paths.json.read_text())
    assert doc["format"] == c.FORMAT and doc["spec"]["sha256"] == SPEC.sha256
    assert len(doc["boards"]) == len(r.boards)
    assert doc["false_reject"]["predicted_from"]["model_alpha"] == 1e-3
    assert len(doc["false_reject"]["predicted_from"]["spec_without_rate"]) == len(SPEC.metrics) - 4
    assert "| dead-neuron | 2/2 |" in paths.markdown.read_text()


def test_healthy_serials_pass_v1(small_campaign):
    healthy = [b for b in small_campaign.boards if not b.fault_class]
    assert [b.verdict for b in healthy] == ["PASS", "PASS"], healthy
    assert small_campaign.false_reject.k == 0


def test_a_campaign_over_the_wire_judges_hil_serve_children():
    config = c.CampaignConfig(faults_per_class=1, healthy=1, classes=("dead-neuron",), workers=2)
    r = c.run_campaign(SPEC, config, progress=False)
    assert [(b.fault, b.verdict) for b in r.boards] == [(("dead-neuron=511",), "FAIL"), ((), "PASS")]


def test_certificate_states_the_coverage_of_its_spec_file_or_that_none_was_measured(small_campaign, tmp_path):
    shutil.copy(V1, tmp_path / "bss2-acceptance-v1.toml")
    spec = load_spec(tmp_path / "bss2-acceptance-v1.toml")
    assert spec.sha256 == SPEC.sha256
    acceptance = run_acceptance(EmulatorBackend(serial="EMU-ACC-9"), spec)
    assert certificate_document(acceptance)["coverage"] == {"measured": False, "statement": NO_COVERAGE}
    assert NO_COVERAGE in render_certificate(acceptance, plots=False)

    report = small_campaign
    path = c.write_coverage(report, c.coverage_path(spec))
    assert path == tmp_path / "bss2-acceptance-v1.coverage.json"
    doc = certificate_document(acceptance)["coverage"]
    assert doc["measured"] and doc["sha256"] == spec.sha256 and doc["date"] == report.started
    assert doc["size"]["faults_per_class"] == 2 and doc["size"]["healthy_boards"] == 2
    assert [(k["name"], k["k"], k["n"]) for k in doc["classes"]] == [
        (k.name, k.caught.k, k.caught.n) for k in report.classes]
    assert (doc["false_reject"]["k"], doc["false_reject"]["n"]) == (0, 2)
    html = render_certificate(acceptance, plots=False)
    assert "2 faults per class over 2 classes and 2 healthy boards" in html and "dead-neuron" in html

    # another version of the file (one more comment line) has no campaign
    edited = tmp_path / "edited" / "bss2-acceptance-v1.toml"
    edited.parent.mkdir()
    edited.write_text(V1.read_text() + "# edited\n")
    shutil.copy(path, edited.parent / path.name)
    other = load_spec(edited)
    assert other.sha256 != spec.sha256
    assert coverage_document(other) == {"measured": False, "statement": NO_COVERAGE}
    assert math.isclose(json.loads(path.read_text())["by_sha256"][spec.sha256]["false_reject"]["predicted"],
                        1 - (1 - 1e-3) ** 4)


def test_hil_accept_campaign_writes_the_campaign_and_the_coverage_file(tmp_path, capsys):
    from hil.cli import main

    spec_file = tmp_path / "bss2-acceptance-v1.toml"
    shutil.copy(V1, spec_file)
    # no faulty boards, one healthy one: the CLI's wiring, over the wire, in one board's time
    assert main(["accept", "--campaign", "0", "--healthy", "1", "--spec", str(spec_file),
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "False rejects: 0 of 1 healthy boards" in out
    boards = json.loads((tmp_path / "out" / "campaign.json").read_text())["boards"]
    assert [(b["serial"], b["verdict"]) for b in boards] == [("EMU-10000", "PASS")]
    coverage = json.loads((tmp_path / "bss2-acceptance-v1.coverage.json").read_text())
    assert list(coverage["by_sha256"]) == [SPEC.sha256]
    assert coverage["by_sha256"][SPEC.sha256]["size"]["healthy_boards"] == 1


def test_docs_table_names_every_class_with_its_fault_syntax():
    from tests.support import REPO

    text = (REPO / "docs" / "acceptance.md").read_text("utf-8")
    section = text.split("## Fault model and coverage campaign", 1)[1]
    rows = {line.split("|")[1].strip().strip("`"): line for line in section.splitlines()
            if line.startswith("| `")}
    assert set(c.CLASS_NAMES) | {k.name for k in c.LINK_CLASSES} <= set(rows)
    for cls in c.FAULT_CLASSES + c.LINK_CLASSES:
        assert f"`{cls.syntax}`" in rows[cls.name], cls.name


def test_stuck_capmem_draws_every_cell_at_any_level():
    cells = [_only(f, "stuck_capmem") for f in c.draw_faults(c.fault_class("stuck-capmem"), DRAWS, seed=0)]
    assert {x.parameter for x in cells} == set(c.CAPMEM_PARAMETERS)
    levels = [x.level for x in cells]
    assert min(levels) < 50 and max(levels) > g.CAPMEM_LEVEL_MAX - 50


@pytest.mark.board
def test_link_classes_end_in_a_link_outcome_over_the_wire():
    config = c.CampaignConfig(faults_per_class=0, healthy=0, classes=(), link_per_class=2, workers=2)
    r = c.run_campaign(SPEC, config, progress=False)
    assert [k.name for k in r.classes] == [k.name for k in c.LINK_CLASSES]
    for k in r.classes:
        assert (k.caught.k, k.caught.n) == (2, 2), k.missed
        assert sum(n for _, n in k.metrics) == 2 and {m for m, _ in k.metrics} <= set(c.LINK_OUTCOMES)
    assert {b.verdict for b in r.boards} <= set(c.LINK_OUTCOMES)
    assert all(b.fault and b.fault[0].split("=")[0] in ("drop-after", "slow") for b in r.boards)
    with pytest.raises(InvalidValue, match="link_per_class"):
        c.CampaignConfig(link_per_class=1, transport="emulator")
