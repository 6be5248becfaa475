"""``hil.fidelity``: the emulator, the ideal chip and a virtual board in one comparison; the
exact-match checks pass where the claims hold and fail where they do not."""
import json

import numpy as np
import pytest

import hil
import hil.fidelity as fidelity
from emulator.bss2 import Faults
from hil.errors import InvalidValue
from hil.fidelity.compare import Entry, exact_mismatches, ideal_check
from hil.results.store import ResultStore
from hil.server.process import BoardProcess

EXPERIMENTS = ["bss2.mac_gain", "bss2.mac_neuron_profile", "bss2.mac_sends_and_wait"]
SMALL = {"bss2.mac_gain": {"batch": 20}, "bss2.mac_sends_and_wait": {"repeats": 2}}


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """The emulator, the ideal chip and a virtual board of the same serial, run now and stored."""
    store = ResultStore(tmp_path_factory.mktemp("store"))
    with BoardProcess(serial="EMU-0042") as proc:
        devices = [fidelity.parse_device(d) for d in
                   ("emulator:EMU-0042", "emulator:EMU-0042:ideal", f"board:{proc.resource}")]
        f = fidelity.compare(EXPERIMENTS, devices, store=store, params=SMALL, model_runs=2)
    return f, store


def test_the_exact_match_checks_pass(three):
    f, _ = three
    assert f.passed
    claims = [(c.claim, c.device) for c in f.checks]
    assert claims == [("ideal = model", "emulator:EMU-0042:ideal"),
                      ("board = emulator at the same run counter", "board:EMU-0042")] * len(EXPERIMENTS)
    assert all(c.passed and c.compared > 0 and c.mismatches == 0 for c in f.checks)


def test_the_board_equals_the_emulator_value_for_value(three):
    f, _ = three
    for c in f.experiments:
        entries = {e.device: e.result for e in c.entries}
        board, emu = entries["board:EMU-0042"], entries["emulator:EMU-0042"]
        assert (board.context.run_counter_first, board.context.run_counter_stop) == \
               (emu.context.run_counter_first, emu.context.run_counter_stop)
        for k in emu.raw:
            np.testing.assert_array_equal(board.raw[k], emu.raw[k])


def test_the_table_holds_values_model_differences_and_verdicts(three):
    f, _ = three
    gain = f.experiments[0]
    row = next(r for r in gain.rows if r.name == "gain_rel_error")
    emu = row.values["emulator:EMU-0042"]
    assert emu.passed is True and emu.interval > 0
    assert row.differences["emulator:EMU-0042"] == pytest.approx(emu.value - row.model.value, abs=1e-15)
    # The ideal chip is held against the ideal model, whose gain error is its own: equal, difference 0.
    assert row.differences["emulator:EMU-0042:ideal"] == 0.0
    assert row.model.interval is not None           # two runs on the model device: a band


def test_the_report_has_table_checks_figures_and_json(three, tmp_path):
    f, _ = three
    paths = fidelity.write(f, tmp_path)
    doc = json.loads(paths.json.read_text())
    assert doc["checks_passed"] and doc["passed"] and doc["devices"] == \
        ["emulator:EMU-0042", "emulator:EMU-0042:ideal", "board:EMU-0042"]
    sends = doc["experiments"][2]
    assert sends["experiment"] == "bss2.mac_sends_and_wait"
    assert {fig["key"] for fig in sends["figures"]} == {"sends_and_wait-overlay", "sends_and_wait-residuals"}
    residuals = json.loads((tmp_path / sends["figures"][1]["data"]).read_text())
    board_minus_emu = [s for s in residuals["series"] if s["name"].startswith("board:EMU-0042 − emulator:EMU-0042")]
    assert board_minus_emu and all(v == 0 for s in board_minus_emu for v in s["y"])
    html = paths.html.read_text()
    assert "board = emulator at the same run counter" in html and "value (95 % interval)" in html
    assert html.count('src="data:image/png;base64,') == sum(len(e["figures"]) for e in doc["experiments"])


def test_every_value_in_the_table_has_an_interval_or_a_reason(three, tmp_path):
    f, _ = three
    paths = fidelity.write(f, tmp_path)
    doc = json.loads(paths.json.read_text())
    for e in doc["experiments"]:
        for m in e["metrics"]:
            for device, v in m["values"].items():
                where = (e["experiment"], m["name"], device)
                if v["no_interval"]:
                    assert v["low"] is None and v["high"] is None, where
                else:
                    assert v["low"] <= v["high"] and v["interval_method"], where
                if device.endswith(":ideal") and not v["interval_method"]:
                    assert v["no_interval"].startswith("exact:"), where
            # The board's raw data equal the emulator's, and the intervals' resampling is seeded:
            # the same intervals.
            board, emu = m["values"]["board:EMU-0042"], m["values"]["emulator:EMU-0042"]
            assert (board["low"], board["high"], board["no_interval"]) == (emu["low"], emu["high"], emu["no_interval"])
    rows = {m["name"]: m for m in doc["experiments"][0]["metrics"]}          # bss2.mac_gain
    assert rows["prediction_mismatches"]["values"]["emulator:EMU-0042"]["interval_method"].startswith("Clopper")
    assert rows["prediction_mismatches"]["values"]["emulator:EMU-0042:ideal"]["no_interval"].startswith("exact:")
    # mac_sends_and_wait ran with 2 repeats: too few for its bootstrap, which says so.
    sends = {m["name"]: m for m in doc["experiments"][2]["metrics"]}
    assert "needs at least" in sends["fit_residual_max"]["values"]["emulator:EMU-0042"]["no_interval"]
    html = paths.html.read_text()
    assert all(t in html for t in ("(exact)", "(no interval)", "Clopper-Pearson", "standard errors (t(19)), from a bootstrap"))
    assert " [" in html and " ± " in html


def test_stored_runs_compare_by_latest_and_by_id(three):
    f, store = three
    devices = [fidelity.parse_device(d) for d in ("emulator:EMU-0042", "emulator:EMU-0042:ideal")]
    latest = fidelity.compare(["bss2.mac_neuron_profile"], devices, runs="latest", store=store, model_runs=0)
    ids = [e.run_id for e in f.experiments[1].entries]
    by_id = fidelity.compare(["bss2.mac_neuron_profile"], runs=ids, store=store, model_runs=0)
    assert [e.run_id for e in latest.experiments[0].entries] == ids[:2]
    assert [e.device for e in by_id.experiments[0].entries] == [e.device for e in f.experiments[1].entries]
    assert by_id.passed         # the stored board run is replayed at its recorded run counter


def test_different_parameters_are_refused(three):
    _, store = three
    with hil.backend.open("emulator", serial="EMU-0042") as b:
        hil.experiment.run("bss2.mac_neuron_profile", b, store=store, repeats=3)
    other = store.last_run_id
    first = store.runs(experiment="bss2.mac_neuron_profile", ideal=True)[0].run_id
    with pytest.raises(InvalidValue, match="same parameters"):
        fidelity.compare(["bss2.mac_neuron_profile"], runs=[first, other], store=store, model_runs=0)


def test_a_board_with_a_fault_fails_the_board_check():
    """The claim is checked, not assumed: a dead neuron on the board is not on the emulator."""
    with BoardProcess(serial="EMU-0042", faults=Faults(dead_neurons=(5,))) as proc:
        f = fidelity.compare(["bss2.mac_neuron_profile"], [fidelity.parse_device(f"board:{proc.resource}")],
                             model_runs=0)
    [check] = f.checks
    assert not check.passed and check.mismatches >= 20 * 1      # neuron 5 in each of 20 repeats
    assert not f.passed
    # The first unequal values, with what reproduces them: neuron 5 of the raw outputs, repeat 0 first.
    first = check.examples[0]
    assert (first["raw"], first["index"], first["experiment"], first["serial"]) == \
        ("neuron_output", [0, 5], "bss2.mac_neuron_profile", "EMU-0042")
    assert first["params"]["repeats"] == 20 and first["run_counter_first"] == 0
    assert len(check.examples) == 20


def test_an_ideal_chip_with_a_fault_fails_the_ideal_check():
    with hil.backend.open("emulator", serial="EMU-0042", ideal=True, faults=Faults(dead_neurons=(9,))) as b:
        r = hil.experiment.run("bss2.mac_neuron_profile", b)
    check = ideal_check(Entry(r.context.device, r))
    assert not check.passed and check.mismatches == 2 * 20     # neuron 9: raw vs prediction and the metric


@pytest.mark.parametrize("a, b, expected", [
    (np.zeros((3, 4, 5)), np.zeros(5), (60, 0)),            # one value per neuron
    (np.zeros((3, 4, 5)), np.zeros(3), (60, 0)),            # one value per point
    (np.arange(6).reshape(2, 3), np.array([0, 1, 2]), (6, 3)),
    (np.zeros((2, 3)), np.zeros(4), (0, 0))])
def test_exact_mismatches_broadcast(a, b, expected):
    assert exact_mismatches(a, b) == expected


def test_runs_of_different_sizes_are_refused_and_cores_compare_with_their_model(three):
    _, store = three
    core = fidelity.parse_device("emulator:EMU-0042:core=16x8x2")
    with core.open() as b:
        hil.experiment.run("bss2.mac_neuron_profile", b, store=store)
    small = store.last_run_id
    whole = store.runs(experiment="bss2.mac_neuron_profile", ideal=False, backend="emulator")[-1].run_id
    with pytest.raises(InvalidValue, match="different sizes"):
        fidelity.compare(["bss2.mac_neuron_profile"], runs=[whole, small], store=store, model_runs=0)
    f = fidelity.compare(["bss2.mac_neuron_profile"], runs=[small], store=store, model_runs=2)
    [cmp] = f.experiments
    # The model ran on the core's 16 outputs too: its profile has their size.
    assert len(cmp.model_runs) == 2 and all(m.raw["neuron_output"].shape[1] == 16 for m in cmp.model_runs)
