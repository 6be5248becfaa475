"""Board acceptance: a healthy board passes, every injected fault fails with the
right metric named, the certificate says exactly what was judged, and a bad
specification file is refused with the key named.

The board tests start real ``hil serve`` processes and run ``hil accept --backend
board --resource ...``; the in-process ones run the same specification on the
emulator directly. Both use the real specs/bss2-acceptance-v1.toml, unchanged.
"""
import datetime as _dt
import hashlib
import json
import re
import xml.etree.ElementTree as ET

import hil.backend
import hil.experiment
import numpy as np
import pytest
from hil.errors import InvalidValue

import emulator
import hil
from emulator.bss2 import Faults, StuckBit
from hil.acceptance import (
    AcceptanceSpec,
    SpecError,
    certificate_document,
    default_spec_path,
    load_spec,
    parse_spec,
    run_acceptance,
    write_certificate,
)
from hil.backends.emulator import EmulatorBackend
from hil.bss2.types import CadcRamp
from hil.cli import main
from hil.results.store import ResultStore
from hil.server.process import BoardProcess

SPEC_PATH = default_spec_path().parent / "bss2-acceptance-v1.toml"   # these tests pin v1's content
SPEC_TEXT = SPEC_PATH.read_text("utf-8")
SPEC_LABEL = "bss2-acceptance v1 (bss2-acceptance-v1.toml): "

# (faults, the metric that must fail, every metric the fault may fail)
FAULTS = {
    "dead-neuron": (Faults(dead_neurons=(77,)), "bss2.mac_fixed_pattern.dead_neurons",
                    {"bss2.mac_fixed_pattern.dead_neurons", "bss2.mac_linearity.linear_range_min",
                     "bss2.mac_linearity.gain_spread", "bss2.mac_fixed_pattern.neuron_spread",
                     # the dead channel's membrane does not follow the CapMem ramp either
                     "bss2.cadc_code_density.dnl_max", "bss2.cadc_code_density.span_short_channels"}),
    "stuck-bit": (Faults(stuck_bits=(StuckBit(hemisphere=0, row=0, column=12, bit=5, value=1),)),
                  "bss2.mac_linearity.weight_residual_rms_max",
                  {"bss2.mac_linearity.weight_residual_rms_max", "bss2.mac_linearity.input_residual_rms_max",
                   "bss2.mac_linearity.linear_range_min"}),
    "noisy-neuron": (Faults(noisy_neurons=((300, 6.0),)), "bss2.mac_noise.noise_max",
                     {"bss2.mac_noise.noise_max", "bss2.mac_linearity.weight_residual_rms_max",
                      "bss2.mac_linearity.input_residual_rms_max"}),
    "missing-codes": (Faults(missing_codes=(100, 101)), "bss2.cadc_code_density.missing_codes",
                      {"bss2.cadc_code_density.missing_codes", "bss2.cadc_code_density.dnl_max"}),
}


@pytest.fixture(scope="module")
def spec() -> AcceptanceSpec:
    return load_spec(SPEC_PATH)


def _accept_cli(capsys, *argv):
    """``hil accept`` with v1 (these tests pin its content) unless ``--spec`` is given."""
    spec = [] if "--spec" in argv else ["--spec", str(SPEC_PATH)]
    code = main(["accept", *spec, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _failed(acceptance) -> set[str]:
    return {j.key for j in acceptance.failed}


# --- the specification file -----------------------------------------------------------

def test_v1_spec_covers_what_the_issue_asks(spec):
    keys = [m.key for m in spec.metrics]
    for key in ("bss2.mac_gain.gain_rel_error", "bss2.mac_linearity.gain_spread", "bss2.mac_noise.noise_rel_error",
                "bss2.mac_noise.noise_max", "bss2.mac_linearity.linear_range_min",
                "bss2.mac_fixed_pattern.dead_neurons", "bss2.cadc_code_density.missing_codes",
                "bss2.cadc_code_density.dnl_max", "bss2.mac_fixed_pattern.neuron_spread",
                "bss2.mac_fixed_pattern.row_spread", "bss2.mac_noise.non_normal_neurons"):
        assert key in keys
    assert (spec.name, spec.version, spec.family) == ("bss2-acceptance", "1", "bss2")
    assert spec.sha256 == hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()
    assert all(m.source.strip() for m in spec.metrics)
    assert [p.experiment for p in spec.experiments] == [
        "bss2.mac_gain", "bss2.mac_linearity", "bss2.mac_noise", "bss2.mac_fixed_pattern",
        "bss2.cadc_code_density"]
    assert dict(spec.experiments[-1].params) == {"repeats": 64}
    with pytest.raises(TypeError):
        spec.experiments[0].params["batch"] = 10     # read-only


def _mutated(old: str, new: str) -> str:
    assert SPEC_TEXT.count(old) == 1, old
    return SPEC_TEXT.replace(old, new)


SPEC_ERRORS = [
    ("unknown table", SPEC_TEXT + "\n[limits]\nx = 1\n", "limits"),
    ("unknown spec key", _mutated('family = "bss2"\n', 'family = "bss2"\nowner = "lab"\n'), "spec.owner"),
    ("missing version", _mutated('version = "1"\n', ""), "spec.version"),
    ("version not a string", _mutated('version = "1"\n', "version = 1\n"), "spec.version"),
    ("unknown experiment", _mutated('[metrics."bss2.mac_noise".noise_max]', '[metrics."bss2.mac_nois".noise_max]'),
     'metrics."bss2.mac_nois"'),
    ("unknown metric", _mutated('[metrics."bss2.mac_noise".noise_max]', '[metrics."bss2.mac_noise".noise_maximum]'),
     'metrics."bss2.mac_noise".noise_maximum'),
    ("limit a string", _mutated("limit = 3.5\n", 'limit = "3.5"\n'), 'metrics."bss2.mac_noise".noise_max.limit'),
    ("limit a boolean", _mutated("limit = 3.5\n", "limit = true\n"), 'metrics."bss2.mac_noise".noise_max.limit'),
    ("bad comparison", _mutated('limit = 3.5\ncomparison = "<="', 'limit = 3.5\ncomparison = "<"'),
     'metrics."bss2.mac_noise".noise_max.comparison'),
    ("unknown metric key", _mutated('limit = 3.5\n', 'limit = 3.5\nunit = "LSB"\n'),
     'metrics."bss2.mac_noise".noise_max.unit'),
    ("missing source", re.sub(r'(limit = 3\.5\ncomparison = "<="\n)source = [^\n]*\n', r"\1", SPEC_TEXT),
     'metrics."bss2.mac_noise".noise_max.source'),
    ("unknown parameter", _mutated("repeats = 200\n", "repeat = 200\n"), 'experiments."bss2.mac_noise".repeat'),
    ("parameter of the wrong type", _mutated("repeats = 200\n", "repeats = 200.5\n"),
     'experiments."bss2.mac_noise".repeats'),
    ("not TOML", SPEC_TEXT + "\n[spec\n", "file"),
    ("no metrics", SPEC_TEXT.split("# --- Gain")[0], "metrics"),
]


@pytest.mark.parametrize("text, key", [c[1:] for c in SPEC_ERRORS], ids=[c[0] for c in SPEC_ERRORS])
def test_bad_spec_is_refused_with_the_key_named(text, key):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "bad.toml")
    assert info.value.field == key
    assert str(info.value).startswith(f"{key}: ")
    assert "bad.toml" in str(info.value)


def test_parameters_for_an_experiment_without_metrics_are_refused():
    text = SPEC_TEXT.split("# --- Gain")[0] + (
        '[metrics."bss2.mac_noise".noise_max]\nlimit = 3.5\ncomparison = "<="\nsource = "x"\n')
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert info.value.field == 'experiments."bss2.mac_gain"'


def test_missing_spec_file_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(_mutated("limit = 3.5\n", 'limit = "3.5"\n'))
    code, out, err = _accept_cli(capsys, "--spec", str(bad), "--out", str(tmp_path / "out"),
                                 "--store", str(tmp_path / "store"))
    assert code == 2
    assert 'metrics."bss2.mac_noise".noise_max.limit' in err
    assert not (tmp_path / "out").exists()


def _small_spec(metric_tables: str, family: str = "bss2") -> AcceptanceSpec:
    return parse_spec(f'[spec]\nname = "t"\nversion = "0"\nfamily = "{family}"\ndescription = "test"\n'
                      + metric_tables, "small.toml")


def test_model_limit_must_exist_and_match_the_experiments():
    backend = hil.backend.open("emulator", serial="EMU-ACC-SPEC")
    reported_only = _small_spec('[metrics."bss2.mac_gain".fit_residual_rms]\n'
                                'limit = "model"\ncomparison = "<="\nsource = "x"\n')
    with pytest.raises(SpecError) as info:
        run_acceptance(backend, reported_only)
    assert info.value.field == 'metrics."bss2.mac_gain".fit_residual_rms.limit'
    other_comparison = _small_spec('[metrics."bss2.mac_gain".gain_rel_error]\n'
                                   'limit = "model"\ncomparison = "<="\nsource = "x"\n')
    with pytest.raises(SpecError) as info:
        run_acceptance(backend, other_comparison)
    assert info.value.field == 'metrics."bss2.mac_gain".gain_rel_error.comparison'


def test_parameter_outside_the_experiments_range_is_a_spec_error_before_anything_runs():
    with pytest.raises(SpecError) as info:
        parse_spec(_mutated("repeats = 64\n", "repeats = 3\n"), "few.toml")
    assert info.value.field == 'experiments."bss2.cadc_code_density".repeats'
    assert "3 is outside the allowed range 7..64" in str(info.value)


def test_spec_of_another_family_is_refused():
    other = _small_spec('[metrics."bss2.mac_gain".gain_rel_error]\nlimit = 0.1\ncomparison = "abs<="\n'
                        'source = "x"\n', family="dynapse2")
    with pytest.raises(InvalidValue, match="judges dynapse2 boards"):
        run_acceptance(hil.backend.open("emulator"), other)


# --- in process: the emulator ----------------------------------------------------------

def test_healthy_chip_passes_in_process(spec, tmp_path):
    store = ResultStore(tmp_path / "store")
    a = run_acceptance(hil.backend.open("emulator", serial="EMU-ACC-1"), spec, store=store)
    assert a.passed, [(j.key, j.metric.value, j.metric.limit) for j in a.failed]
    assert [j.key for j in a.judged] == [m.key for m in spec.metrics]
    # The spec's limits replace the experiments': numbers from the file, "model" from the experiment.
    for j in a.judged:
        assert j.metric.source.startswith(SPEC_LABEL + j.spec.source)
        if j.spec.from_model:
            assert j.metric.limit == j.experiment_limit
            assert j.metric.source.endswith("; limit from the experiment: " + j.experiment_source)
        else:
            assert j.metric.limit == j.spec.limit
    assert a.judgement("bss2.mac_linearity.gain_spread").experiment_limit is None   # only reported before
    # Metrics the spec does not name are carried as the experiment reported them.
    assert ("bss2.mac_linearity", "r2_min") in {(e, m.name) for e, m in a.reported}
    # Every run is stored, as measured.
    stored = {r.run_id: r for r in store.runs()}
    assert [stored[r.run_id].experiment for r in a.runs] == [p.experiment for p in spec.experiments]
    assert store.load(a.runs[-1].run_id).params == {"repeats": 64}


@pytest.mark.parametrize("fault", FAULTS)
def test_injected_fault_fails_with_the_right_metric_in_process(spec, fault):
    faults, metric, allowed = FAULTS[fault]
    a = run_acceptance(hil.backend.open("emulator", serial="EMU-ACC-1", faults=faults), spec)
    assert a.verdict == "FAIL"
    assert metric in _failed(a)
    assert _failed(a) <= allowed, f"{fault} also failed {sorted(_failed(a) - allowed)}"


class _MacOnlyBackend(EmulatorBackend):
    """A board whose firmware has no CADC ramp mode."""

    MODES = ("mac",)

    def run(self, stimulus):
        if isinstance(stimulus, CadcRamp):
            raise self._unsupported(stimulus, self.MODES)
        return super().run(stimulus)


def test_experiment_that_cannot_run_fails_the_board_with_the_error(spec, tmp_path):
    store = ResultStore(tmp_path / "store")
    a = run_acceptance(_MacOnlyBackend(serial="EMU-ACC-1"), spec, store=store)
    cadc = [j for j in a.judged if j.spec.experiment == "bss2.cadc_code_density"]
    assert a.verdict == "FAIL" and _failed(a) == {j.key for j in cadc}
    assert all(j.status == "error" and j.error.startswith("Unsupported: ") for j in cadc)
    assert store.record(a.runs[-1].run_id).status == "error"
    paths = write_certificate(a, tmp_path / "cert", plots=False)
    doc = json.loads(paths.json.read_text())
    row = doc["metrics"][-1]
    assert (row["status"], row["passed"], row["value"]) == ("error", False, None)
    assert doc["runs"][-1]["error"].startswith("Unsupported: ")
    suite = ET.parse(paths.junit).getroot()
    assert suite.get("errors") == str(len(cadc)) and suite.get("failures") == "0"
    case = suite.find("testcase[@name='bss2.cadc_code_density.missing_codes']")
    assert case.find("error").get("type") == "Unsupported"


# --- the certificate ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def faulty(spec):
    """A noisy-neuron chip's acceptance (fails noise_max)."""
    return run_acceptance(hil.backend.open("emulator", serial="EMU-ACC-1", faults=FAULTS["noisy-neuron"][0]), spec)


def test_certificate_json(faulty, spec, tmp_path):
    paths = write_certificate(faulty, tmp_path / "cert", plots=False)
    assert paths.json == tmp_path / "cert" / "certificate.json"
    doc = json.loads(paths.json.read_text("utf-8"))
    assert doc == certificate_document(faulty)
    assert doc["format"] == "hil-rig acceptance certificate 1"
    assert doc["board"] == {"vendor": "hil-rig", "model": "BSS2-EMU", "serial": "EMU-ACC-1",
                            "firmware": f"emulator {emulator.__version__}", "backend": "emulator", "family": "bss2"}
    assert doc["software"] == {"name": "hil-rig", "version": hil.__version__}
    assert doc["spec"] == {"name": "bss2-acceptance", "version": "1", "family": "bss2",
                           "description": spec.description, "file": "bss2-acceptance-v1.toml",
                           "path": str(SPEC_PATH), "sha256": hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()}
    date = _dt.datetime.fromisoformat(doc["date"])
    assert date.utcoffset() == _dt.timedelta(0)
    assert (doc["verdict"], doc["passed"]) == ("FAIL", False)
    assert "bss2.mac_noise.noise_max" in doc["failed"]
    assert [m["id"] for m in doc["metrics"]] == [m.key for m in spec.metrics]
    row = next(m for m in doc["metrics"] if m["id"] == "bss2.mac_noise.noise_max")
    j = faulty.judgement("bss2.mac_noise.noise_max")
    assert row == {
        "id": "bss2.mac_noise.noise_max", "experiment": "bss2.mac_noise", "metric": "noise_max",
        "value": j.metric.value, "low": j.metric.low, "high": j.metric.high,
        "interval_method": j.metric.interval_method, "no_interval": "", "unit": "LSB", "limit": 3.5, "comparison": "<=",
        "source": SPEC_LABEL + "hil.bss2.MacSpec.noise_max: no neuron noisier than 3.5 LSB "
                               "(1.75 x the nominal 2 LSB; docs/chip_model.md#numbers-and-their-sources, "
                               "row MacSpec.noise_max)",
        "limit_from": "spec", "passed": False, "status": "fail", "detail": "sigma of the noisiest neuron",
        "experiment_limit": 3.5, "experiment_comparison": "<=", "experiment_source": "spec: hil.bss2.MacSpec",
        "error": ""}
    assert j.metric.value > 3.5
    # The noisy neuron's sigma, with the bootstrap interval of the largest one.
    assert j.metric.low <= j.metric.value <= j.metric.high and "bootstrap over the 200 repeats" in j.metric.interval_method
    model_row = next(m for m in doc["metrics"] if m["id"] == "bss2.cadc_code_density.dnl_max")
    assert model_row["limit_from"] == "model" and model_row["limit"] == model_row["experiment_limit"]
    assert all(m["passed"] == (m["status"] == "pass") for m in doc["metrics"])
    assert {r["id"] for r in doc["reported"]} >= {"bss2.mac_linearity.r2_min", "bss2.mac_noise.noise_min"}


def test_junit_xml(faulty, tmp_path):
    paths = write_certificate(faulty, tmp_path / "cert", plots=False)
    suite = ET.parse(paths.junit).getroot()
    assert suite.tag == "testsuite"
    assert suite.get("name") == "bss2-acceptance v1 EMU-ACC-1"
    n = len(faulty.judged)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (str(n), str(len(faulty.failed)), "0")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["serial"] == "EMU-ACC-1" and props["verdict"] == "FAIL" and props["vendor"] == "hil-rig"
    assert props["spec_sha256"] == faulty.spec.sha256
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [j.key for j in faulty.judged]
    failing = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failing) == {j.key for j in faulty.failed}
    f = failing["bss2.mac_noise.noise_max"]
    value = faulty.judgement("bss2.mac_noise.noise_max").metric.value
    assert f.get("message") == f"bss2.mac_noise.noise_max = {value:.4g} LSB, limit <= 3.5 LSB"
    assert f"value: {value:.4g} LSB\nlimit: <= 3.5 LSB\nsource: {SPEC_LABEL}hil.bss2.MacSpec.noise_max" in f.text


def test_certificate_html_is_escaped(tmp_path):
    text = _mutated('description = "Acceptance of one',
                    'description = "<script>alert(1)</script> & Acceptance of one')
    text = text.replace("the model's noise (a stuck weight bit does not)", "the <b>model</b>'s noise")
    spec = parse_spec(text, str(tmp_path / "x<y>.toml"))
    a = run_acceptance(hil.backend.open("emulator", serial="EMU-<ACC>&"), spec)
    html = write_certificate(a, tmp_path / "cert", plots=True).html.read_text("utf-8")
    assert "<script>" not in html and "<b>model</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Acceptance" in html
    assert "the &lt;b&gt;model&lt;/b&gt;&#39;s noise" in html
    assert "EMU-&lt;ACC&gt;&amp;" in html and "x&lt;y&gt;.toml" in html
    assert '<span id="verdict" class="badge pass">PASS</span>' in html
    assert html.count("data:image/png;base64,") >= 5      # the experiments' plots, code density included


# --- over the board protocol: real `hil serve` processes -------------------------------

@pytest.mark.board
def test_healthy_virtual_board_passes(tmp_path, capsys, spec):
    with BoardProcess(serial="EMU-ACC-2") as proc:
        code, out, err = _accept_cli(capsys, "--backend", "board", "--resource", proc.resource,
                                     "--out", str(tmp_path / "cert"), "--store", str(tmp_path / "store"))
    assert code == 0, out + err
    assert "verdict: PASS\n" in out
    doc = json.loads((tmp_path / "cert" / "certificate.json").read_text())
    assert doc["board"] == {"vendor": "hil-rig", "model": "BSS2-EMU", "serial": "EMU-ACC-2",
                            "firmware": f"emulator {emulator.__version__}", "backend": "board", "family": "bss2"}
    assert (doc["verdict"], doc["failed"]) == ("PASS", [])
    assert [m["id"] for m in doc["metrics"]] == [m.key for m in spec.metrics]
    store = ResultStore(tmp_path / "store")
    assert [store.record(r["run_id"]).serial for r in doc["runs"]] == ["EMU-ACC-2"] * len(spec.experiments)
    suite = ET.parse(tmp_path / "cert" / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == (str(len(spec.metrics)), "0")
    html = (tmp_path / "cert" / "certificate.html").read_text()
    assert '<span id="verdict" class="badge pass">PASS</span>' in html and "EMU-ACC-2" in html


@pytest.mark.board
@pytest.mark.parametrize("fault", FAULTS)
def test_injected_fault_fails_the_virtual_board(tmp_path, capsys, fault):
    faults, metric, allowed = FAULTS[fault]
    with BoardProcess(serial="EMU-ACC-2", faults=faults) as proc:
        code, out, err = _accept_cli(capsys, "--resource", proc.resource, "--serial", "EMU-ACC-2", "--no-plots",
                                     "--out", str(tmp_path / "cert"), "--store", str(tmp_path / "store"))
    assert code == 1, out + err
    verdict = next(line for line in out.splitlines() if line.startswith("verdict: "))
    assert verdict.startswith("verdict: FAIL (failed: ") and metric in verdict
    doc = json.loads((tmp_path / "cert" / "certificate.json").read_text())
    assert metric in doc["failed"] and set(doc["failed"]) <= allowed
    assert doc["board"]["backend"] == "board"
    failures = {c.get("name") for c in ET.parse(tmp_path / "cert" / "junit.xml").getroot().iter("testcase")
                if c.find("failure") is not None}
    assert failures == set(doc["failed"])


@pytest.mark.board
def test_board_with_another_serial_is_refused(tmp_path, capsys):
    with BoardProcess(serial="EMU-ACC-2") as proc:
        code, out, err = _accept_cli(capsys, "--resource", proc.resource, "--serial", "EMU-OTHER",
                                     "--out", str(tmp_path / "cert"), "--store", str(tmp_path / "store"))
    assert code == 2 and "EMU-OTHER" in err
    assert not (tmp_path / "cert").exists()


@pytest.mark.board
def test_board_of_the_inventory(tmp_path, capsys):
    with BoardProcess(serial="EMU-ACC-2", faults=FAULTS["missing-codes"][0]) as proc:
        inventory = tmp_path / "lab.toml"
        inventory.write_text(f'[[board]]\nname = "bench-1"\nresource = "{proc.resource}"\n'
                             f'serial = "EMU-ACC-2"\nfamily = "bss2"\n')
        code, out, err = _accept_cli(capsys, "--board", "bench-1", "--inventory", str(inventory), "--no-plots",
                                     "--out", str(tmp_path / "cert"), "--store", str(tmp_path / "store"))
        assert code == 1, out + err
        assert "verdict: FAIL (failed: bss2.cadc_code_density.missing_codes" in out
        code, out, err = _accept_cli(capsys, "--board", "bench-2", "--inventory", str(inventory),
                                     "--out", str(tmp_path / "cert2"), "--store", str(tmp_path / "store"))
        assert code == 2 and "bench-2" in err and "bench-1" in err


# --- the command line ------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--backend", "board"], "--resource"),
    (["--backend", "emulator", "--resource", "TCPIP::127.0.0.1::5025::SOCKET"], "--backend"),
    (["--resource", "TCPIP::127.0.0.1::5025::SOCKET", "--board", "bench-1"], "--board"),
    (["--inventory", "lab.toml"], "--inventory"),
], ids=["board without resource", "emulator with resource", "board and resource", "inventory alone"])
def test_usage_errors(tmp_path, capsys, argv, message):
    code, out, err = _accept_cli(capsys, *argv, "--out", str(tmp_path / "cert"), "--store", str(tmp_path / "s"))
    assert code == 2 and message in err
    assert not (tmp_path / "cert").exists()


def test_accept_on_the_emulator_in_process(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _accept_cli(capsys, "--serial", "EMU-ACC-1", "--no-plots", "--store", str(tmp_path / "s"))
    assert code == 0, out + err
    folder = re.search(r"^certificate: (certificates/EMU-ACC-1-\d{8}T\d{6})/certificate\.html$", out, re.M)
    assert folder, out
    assert (tmp_path / folder.group(1) / "junit.xml").exists()
    doc = json.loads((tmp_path / folder.group(1) / "certificate.json").read_text())
    assert doc["board"]["backend"] == "emulator"
    assert "board: BSS2-EMU EMU-ACC-1" in out and "bss2.cadc_code_density" in out


def test_ideal_chip_fails_the_noise_it_lacks(spec):
    """The spec judges a board, not the model: a chip without noise or mismatch is not a healthy board."""
    a = run_acceptance(hil.backend.open("emulator", ideal=True), spec)
    assert "bss2.mac_noise.noise_rel_error" in _failed(a)
    assert a.judgement("bss2.cadc_code_density.missing_codes").passed
    assert np.isclose(a.judgement("bss2.cadc_code_density.dnl_max").metric.value, 0.0)


def test_dead_neuron_count_needs_an_output_above_the_noise():
    """At an input whose model output is within the noise, a dead neuron cannot be told from a live one."""
    backend = hil.backend.open("emulator", serial="EMU-ACC-SPEC")
    with pytest.raises(InvalidValue, match="too small to tell a dead neuron") as info:
        hil.experiment.run("bss2.mac_fixed_pattern", backend, input_value=1, rows=5)
    assert info.value.field == "input_value"
    r = hil.experiment.run("bss2.mac_fixed_pattern", hil.backend.open("emulator", faults=Faults(dead_neurons=(3, 300))))
    assert r.metric("dead_neurons").value == 2 and r.summary["dead_neurons"] == [3, 300]
