"""HTML reports and metrics.json, from results built by hand (fixed seeds)."""
import base64
import json
import re

import numpy as np
import pytest
from hil.errors import InvalidValue

from hil.contract.result import ExperimentResult, Metric, RunContext
from hil.results.plots import plots_for
from hil.results.report import ReportPaths, write_report

GAIN = 0.0019
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def context(serial="EMU-0007"):
    return RunContext("emulator", "bss2", serial, "bss2-virtual", "emulator 0.1.0", "0.1.0",
                      "2026-11-23T01:00:00.000+00:00", "2026-11-23T01:00:05.000+00:00")


def linearity(rng, repeats=4):
    w, x = np.arange(-63, 64), np.arange(32)
    k = rng.normal(1.0, 0.05, 512)
    ws = np.clip(np.round(12 * w[:, None, None] * GAIN * 100 * k + rng.normal(0, 2, (127, repeats, 512))), -128, 127)
    xs = np.clip(np.round(x[:, None, None] * 21 * GAIN * 100 * k + rng.normal(0, 2, (32, repeats, 512))), -128, 127)
    return ExperimentResult(
        "bss2.mac_linearity", {"input_value": 12, "note": "<script>alert('x')</script>"},
        raw={"weights": w, "weight_sweep": ws.astype(np.int64), "inputs": x, "input_sweep": xs.astype(np.int64)},
        prediction={"weight_sweep": np.clip(np.floor(12 * w * GAIN * 100), -128, 127),
                    "input_sweep": np.floor(x * 21 * GAIN * 100)},
        metrics=(Metric("gain_median_rel_error", 0.01, 0.1, "abs<=", "spec: hil.bss2.MacSpec"),
                 Metric("r2_min", 0.998, detail="smallest R^2")),
        context=context(), summary={"gain_median": 0.00191})


def fixed_pattern(rng):
    return ExperimentResult(
        "bss2.mac_fixed_pattern", {"input_value": 15, "weight_value": 21, "rows": 100},
        raw={"neuron_output": np.round(59 + rng.normal(0, 3, (20, 512))), "row_output": 23 + rng.normal(0, 1, 128),
             "small_output": 5 + rng.normal(0, 0.3, 512), "distance": np.tile(np.linspace(1, 0, 256), 2)},
        prediction={"neuron_output": np.full(512, 59.0), "row_output": np.full(128, 23.0),
                    "small_output": np.full(512, 5.0)},
        metrics=(Metric("neuron_spread", 0.05, 0.06, "<=", "spec: hil.bss2.MacSpec"),),
        context=context())


def noise(rng, passed=True):
    return ExperimentResult(
        "bss2.mac_noise", {"repeats": 200},
        raw={"samples": rng.integers(50, 70, (200, 512)), "sigma": rng.normal(2.0, 0.2, 512)},
        prediction={},
        metrics=(Metric("noise_max", 2.9 if passed else 4.1, 3.5, "<=", "spec: hil.bss2.MacSpec", "LSB"),
                 Metric("noise_min", float("nan"), unit="LSB")),
        context=context())


def gain(rng):
    e = rng.uniform(-80, 80, 3000)
    return ExperimentResult(
        "bss2.mac_gain", {"batch": 100},
        raw={"expected": e, "measured": np.round(1.02 * e + rng.normal(0, 2, e.size))}, prediction={},
        metrics=(Metric("gain_rel_error", 0.02, 0.1, "abs<=", "spec: hil.bss2.MacSpec"),), context=context())


def unknown(rng):
    return ExperimentResult("lab.<b>odd</b>", {"x": 1}, {"whatever": rng.normal(size=10)}, {},
                            (Metric("m<1>", 1.0, 2.0, "<=", "spec & co"),))


@pytest.fixture
def results():
    rng = np.random.default_rng(1234)
    return [linearity(rng), fixed_pattern(rng), noise(rng), gain(rng)]


def images(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_writes_both_files(tmp_path, results):
    paths = write_report(results, tmp_path / "out", title="Demo", run_ids=["r1", "r2", "r3", "r4"])
    assert paths == ReportPaths(html=tmp_path / "out" / "report.html", json=tmp_path / "out" / "metrics.json")
    assert paths.html.is_file() and paths.json.is_file()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []   # no temp files left


def test_metrics_json(tmp_path, results):
    results[2] = noise(np.random.default_rng(5), passed=False)
    paths = write_report(results, tmp_path, title="Demo", run_ids=["r1", "r2", "r3", "r4"])

    def refuse(constant):
        raise AssertionError(f"metrics.json is not strict JSON: {constant}")

    doc = json.loads(paths.json.read_text(), parse_constant=refuse)
    assert (doc["title"], doc["verdict"], doc["passed"]) == ("Demo", "FAIL", False)
    assert [e["experiment"] for e in doc["experiments"]] == [
        "bss2.mac_linearity", "bss2.mac_fixed_pattern", "bss2.mac_noise", "bss2.mac_gain"]
    assert [e["passed"] for e in doc["experiments"]] == [True, True, False, True]
    n = doc["experiments"][2]
    assert (n["run_id"], n["verdict"], n["failed"]) == ("r3", "FAIL (noise_max)", ["noise_max"])
    assert n["params"] == {"repeats": 200}
    assert n["context"]["serial"] == "EMU-0007"
    assert n["metrics"] == [
        {"name": "noise_max", "value": 4.1, "limit": 3.5, "comparison": "<=", "source": "spec: hil.bss2.MacSpec",
         "unit": "LSB", "detail": "", "interval": None, "low": None, "high": None, "interval_method": "",
         "no_interval": "", "passed": False},
        {"name": "noise_min", "value": "nan", "limit": None, "comparison": None, "source": "", "unit": "LSB",
         "detail": "", "interval": None, "low": None, "high": None, "interval_method": "", "no_interval": "",
         "passed": None},
    ]
    assert doc["experiments"][0]["summary"] == {"gain_median": 0.00191}


def test_overall_pass(tmp_path, results):
    paths = write_report(results, tmp_path)
    doc = json.loads(paths.json.read_text())
    assert (doc["verdict"], doc["passed"]) == ("PASS", True)
    assert 'Overall verdict: <span class="badge pass">PASS</span>' in paths.html.read_text()


def test_html_escapes_everything_from_results(tmp_path, results):
    rng = np.random.default_rng(0)
    html = write_report(results + [unknown(rng)], tmp_path, title="<i>title</i>").html.read_text()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "&lt;i&gt;title&lt;/i&gt;" in html and "<i>" not in html
    assert "lab.&lt;b&gt;odd&lt;/b&gt;" in html and "<b>odd" not in html
    assert "m&lt;1&gt;" in html and "spec &amp; co" in html


def test_html_is_self_contained_with_plots(tmp_path, results):
    html = write_report(results, tmp_path).html.read_text()
    pngs = images(html)
    # linearity: weight and input sweeps; fixed pattern: per neuron, per row, distance; noise; gain.
    assert len(pngs) == 7
    assert all(p.startswith(PNG_SIGNATURE) for p in pngs)
    assert not re.search(r'(src|href)="(?!data:|#)', html)     # no file or URL to fetch
    assert "<link" not in html


def test_plots_follow_the_arrays(results):
    assert [p.key for p in plots_for(results[0])] == ["weight_sweep", "input_sweep"]
    assert [p.key for p in plots_for(results[1])] == ["neuron_output", "row_output", "distance"]
    assert [p.key for p in plots_for(results[2])] == ["noise"]
    assert [p.key for p in plots_for(results[3])] == ["gain"]
    assert plots_for(unknown(np.random.default_rng(0))) == []


def test_noise_plot_from_samples_alone():
    rng = np.random.default_rng(3)
    r = ExperimentResult("x", {}, {"samples": rng.normal(0, 2, (50, 512))}, {}, ())
    assert [p.key for p in plots_for(r)] == ["noise"]


def test_unknown_experiment_gets_its_metrics_table(tmp_path):
    html = write_report([unknown(np.random.default_rng(0))], tmp_path).html.read_text()
    assert images(html) == []
    assert '<tr class="pass">' in html and "m&lt;1&gt;" in html


def test_metric_rows_are_coloured_by_result(tmp_path):
    r = ExperimentResult("toy", {}, {}, {}, (Metric("ok", 1.0, 2.0), Metric("bad", 3.0, 2.0),
                                            Metric("info", 5.0)))
    html = write_report([r], tmp_path).html.read_text()
    rows = re.findall(r'<tr class="(pass|fail|info)">\s*<td class="name"[^>]*>(\w+)', html)
    assert rows == [("pass", "ok"), ("fail", "bad"), ("info", "info")]


def test_refuses_bad_input(tmp_path, results):
    with pytest.raises(InvalidValue, match="results"):
        write_report([], tmp_path)
    with pytest.raises(InvalidValue, match=r"results\[1\]"):
        write_report([results[0], "not a result"], tmp_path)
    with pytest.raises(InvalidValue, match="run_ids"):
        write_report(results, tmp_path, run_ids=["only one"])


def test_mirrored_half_is_explained(results):
    """Each hemisphere is drawn as seed 000's figure 1, its left half mirrored; the caption says so."""
    [plot] = [p for p in plots_for(results[1]) if p.key == "neuron_output"]
    assert "the left one mirrored, so that the columns next to the synapse drivers meet in the middle" \
        in plot.caption
