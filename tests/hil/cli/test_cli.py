"""The ``hil`` command line, run in process (and once as the installed console script)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import hil.backend
import hil.experiment
import numpy as np
import pytest
from hil.backend import Backend, DeviceInfo
from hil.errors import InvalidValue

from hil.cli import main
from hil.contract.result import ExperimentResult, Metric
from hil.results.store import ResultStore

RUN_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}")


class ToyBackend(Backend):
    """A backend with nothing behind it: the toy experiments never touch it."""

    def __init__(self, serial: str = "TOY-1", ideal: bool = False):
        super().__init__()
        self.serial, self.ideal = serial, ideal

    def info(self) -> DeviceInfo:
        return DeviceInfo("test-toy", "toy", self.serial, "toy", "0", ideal=self.ideal)

    def configure(self, config):
        pass

    def run(self, stimulus):
        pass


def _toy(name, value):
    def run(backend, *, level: float = 1.0, repeats: int = 3, label: str = "x", progress: bool = False):
        if label == "refused":     # a value the device refuses once the run has started
            raise InvalidValue("label", "'refused' is refused by the device")
        if label == "crash":
            raise RuntimeError("a bug in the experiment")
        return ExperimentResult(name, dict(level=level, repeats=repeats, label=label),
                                {"y": np.arange(repeats)}, {},
                                (Metric("level_metric", value * level, 2.0, "<=", "spec: toy"),
                                 Metric("reported", 7.0, unit="LSB")))
    return hil.experiment.experiment(name, params={"level": (0.0, 10.0), "repeats": (1, 100)})(run)


@pytest.fixture
def toys(monkeypatch, tmp_path):
    """Toy experiments and a toy backend in registries of their own; cwd and store in tmp_path."""
    hil.experiment.names()     # the built-in experiments register in the real registry, not the copy
    monkeypatch.setattr(hil.experiment, "_EXPERIMENTS", dict(hil.experiment._EXPERIMENTS))
    monkeypatch.setattr(hil.backend, "_REGISTRY", dict(hil.backend._REGISTRY))
    hil.backend.register("test-toy")(ToyBackend)
    _toy("test.passes", 1.0)
    _toy("test.fails", 5.0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIL_RESULTS", str(tmp_path / "env-store"))
    return tmp_path


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def toy_run(capsys, tmp_path, *extra):
    return run_cli(capsys, "run", *extra, "--backend", "test-toy", "--store", str(tmp_path / "store"))


# --- hil run -------------------------------------------------------------------

def test_run_pass(toys, capsys):
    code, out, _ = toy_run(capsys, toys, "test.passes")
    assert code == 0
    assert re.search(r"level_metric\s+1\s+<= 2\s+PASS\s+spec: toy", out)
    assert re.search(r"reported\s+7 LSB\s+-\s+-", out)
    assert "verdict: PASS" in out
    [record] = ResultStore(toys / "store").runs()
    assert f"run id: {record.run_id}" in out
    assert (record.experiment, record.status, record.backend, record.serial) == (
        "test.passes", "pass", "test-toy", "TOY-1")


def test_run_fail(toys, capsys):
    code, out, _ = toy_run(capsys, toys, "test.fails")
    assert code == 1
    assert re.search(r"level_metric\s+5\s+<= 2\s+FAIL", out)
    assert "verdict: FAIL (level_metric)" in out
    assert ResultStore(toys / "store").runs()[0].status == "fail"


def test_run_passes_only_the_backend_options_given(toys, capsys):
    toy_run(capsys, toys, "test.passes", "--serial", "TOY-9", "--ideal")
    toy_run(capsys, toys, "test.passes")
    runs = ResultStore(toys / "store").runs()
    assert [r.serial for r in runs] == ["TOY-1", "TOY-9"]


def test_run_set_values_are_typed_by_the_defaults(toys, capsys):
    code, _, _ = toy_run(capsys, toys, "test.passes", "--set", "level=1.5", "--set", "repeats=4",
                         "--set", "label=123")
    assert code == 0
    store = ResultStore(toys / "store")
    params = store.load(store.runs()[0].run_id).params
    assert params == {"level": 1.5, "repeats": 4, "label": "123"}
    assert isinstance(params["level"], float) and isinstance(params["repeats"], int)
    # A float parameter takes an integer; an int parameter takes 2.0 as 2.
    toy_run(capsys, toys, "test.passes", "--set", "level=2", "--set", "repeats=2.0")
    params = store.load(store.runs()[0].run_id).params
    assert params == {"level": 2.0, "repeats": 2, "label": "x"}


def test_run_json(toys, capsys):
    code, out, _ = toy_run(capsys, toys, "test.fails", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["run_id"] == ResultStore(toys / "store").runs()[0].run_id
    assert (doc["experiment"], doc["passed"], doc["failed"]) == ("test.fails", False, ["level_metric"])
    assert doc["metrics"][0]["value"] == 5.0 and doc["metrics"][0]["source"] == "spec: toy"
    assert doc["context"]["backend"] == "test-toy"


def test_run_unknown_experiment_exits_2(toys, capsys):
    code, out, err = toy_run(capsys, toys, "test.nope")
    assert code == 2
    assert "test.nope" in err and "test.passes" in err      # the valid names are listed
    assert "Traceback" not in err and out == ""


def test_run_unknown_parameter_exits_2(toys, capsys):
    code, _, err = toy_run(capsys, toys, "test.passes", "--set", "reps=3")
    assert code == 2
    assert "'reps' is not a parameter of test.passes" in err
    assert "level, repeats, label" in err
    assert ResultStore(toys / "store").runs() == []


@pytest.mark.parametrize("setting, field", [("repeats=abc", "--set repeats"), ("repeats=2.5", "--set repeats"),
                                            ("level=high", "--set level"), ("repeats", "--set")])
def test_run_bad_set_value_exits_2(toys, capsys, setting, field):
    code, _, err = toy_run(capsys, toys, "test.passes", "--set", setting)
    assert code == 2
    assert f"{field}: " in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["-5", "0", "101", "100000000"])
def test_run_out_of_range_parameter_is_refused_before_the_run_and_not_stored(toys, capsys, value):
    code, _, err = toy_run(capsys, toys, "test.passes", "--set", f"repeats={value}")
    assert code == 2
    assert f"test.passes: repeats: {value} is outside the allowed range 1..100" in err
    assert "Traceback" not in err and "stored" not in err
    assert ResultStore(toys / "store").runs() == []


def test_a_parameter_without_a_declared_range_is_refused_at_registration(toys):
    def run(backend, *, repeats: int = 3, progress: bool = False):
        raise AssertionError("never runs")
    with pytest.raises(ValueError, match=r"missing \['repeats'\]"):
        hil.experiment.experiment("test.undeclared")(run)
    with pytest.raises(InvalidValue, match="outside the allowed range 5..9"):
        hil.experiment.experiment("test.bad-default", params={"repeats": (5, 9)})(run)


def test_run_validation_error_inside_the_experiment_exits_2_and_is_stored(toys, capsys):
    code, _, err = toy_run(capsys, toys, "test.passes", "--set", "label=refused")
    assert code == 2
    assert "label: 'refused' is refused by the device" in err
    [record] = ResultStore(toys / "store").runs()
    assert record.status == "error" and record.run_id in err
    assert record.error == "InvalidValue: label: 'refused' is refused by the device"


def test_run_unexpected_error_exits_3_with_traceback(toys, capsys):
    code, _, err = toy_run(capsys, toys, "test.passes", "--set", "label=crash")
    assert code == 3
    assert "Traceback" in err and "RuntimeError: a bug in the experiment" in err
    assert ResultStore(toys / "store").runs()[0].status == "error"


def test_run_unknown_backend_exits_2(toys, capsys):
    code, _, err = run_cli(capsys, "run", "test.passes", "--backend", "nonesuch", "--store", str(toys / "s"))
    assert code == 2
    assert "nonesuch" in err and "emulator" in err


def test_run_uses_the_env_store_by_default(toys, capsys):
    code, _, _ = run_cli(capsys, "run", "test.passes", "--backend", "test-toy")
    assert code == 0
    assert len(ResultStore(toys / "env-store").runs()) == 1


def test_usage_errors_exit_2(toys, capsys):
    assert run_cli(capsys, )[0] == 2
    assert run_cli(capsys, "frobnicate")[0] == 2
    assert run_cli(capsys, "runs", "--limit", "0")[0] == 2
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "demo" in out


# --- hil runs and hil experiments ---------------------------------------------

def test_runs_table(toys, capsys):
    store = str(toys / "store")
    code, out, _ = run_cli(capsys, "runs", "--store", store)
    assert code == 0 and "no stored runs" in out
    for name in ("test.passes", "test.fails", "test.passes"):
        toy_run(capsys, toys, name)
    ids = [r.run_id for r in ResultStore(store).runs()]
    code, out, _ = run_cli(capsys, "runs", "--store", store)
    assert code == 0
    assert out.splitlines()[0].split("  ")[-1] == "failed metrics or error"   # every column has a header
    assert RUN_ID.findall(out) == ids                           # newest first
    assert "FAIL" in out and "failed: level_metric" in out
    _, out, _ = run_cli(capsys, "runs", "--store", store, "--limit", "1")
    assert RUN_ID.findall(out) == ids[:1]
    _, out, _ = run_cli(capsys, "runs", "--store", store, "--experiment", "test.fails")
    assert RUN_ID.findall(out) == [ids[1]]


def test_experiments_lists_parameters(toys, capsys):
    code, out, _ = run_cli(capsys, "experiments")
    assert code == 0
    block = out[out.index("test.passes"):]
    assert "--set level=1.0  (float, 0.0..10.0)" in block and "--set repeats=3  (int, 1..100)" in block
    assert "--set label=x  (str)" in block


# --- the console script, the emulator, the demo ----------------------------------

def test_console_script_help():
    script = Path(sys.executable).parent / "hil"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "usage: hil" in done.stdout and "experiments" in done.stdout


def test_experiments_prints_plain_text_not_markup(capsys):
    code, out, _ = run_cli(capsys, "experiments")
    assert code == 0
    assert "``" not in out and ":class:" not in out and ":func:" not in out
    assert "--set repeats=200  (int, 40..65536)" in out[out.index("bss2.mac_noise"):]


def test_no_progress_bars_when_stderr_is_not_a_terminal(tmp_path):
    script = Path(sys.executable).parent / "hil"
    done = subprocess.run([str(script), "run", "bss2.mac_noise", "--set", "repeats=50", "--store",
                           str(tmp_path / "store")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "%|" not in done.stderr and "normality" not in done.stderr, done.stderr


def test_run_on_the_emulator(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "run", "bss2.mac_noise", "--serial", "EMU-0042", "--set", "repeats=50",
                           "--store", str(tmp_path / "store"))
    assert code == 0, out
    store = ResultStore(tmp_path / "store")
    [record] = store.runs()
    assert (record.serial, record.status) == ("EMU-0042", "pass")
    result = store.load(record.run_id)
    assert result.params["repeats"] == 50 and result.raw["samples"].shape == (50, 512)


def test_runs_select_by_serial_backend_and_ideal(tmp_path, capsys):
    store = str(tmp_path / "store")
    for extra in (("--ideal",), ()):
        code, out, _ = run_cli(capsys, "run", "bss2.mac_gain", "--serial", "EMU-0042", *extra,
                               "--set", "batch=10", "--store", store)
        assert code == 0, out
    assert "bss2.mac_gain on emulator:EMU-0042\n" in out       # the device as --device names it
    ideal_run, real_run = [r.run_id for r in ResultStore(store).runs()][::-1]
    for args, expected in ((("--ideal",), [ideal_run]), (("--no-ideal",), [real_run]),
                           (("--serial", "EMU-0042", "--backend", "emulator"), [real_run, ideal_run]),
                           (("--serial", "EMU-9"), [])):
        code, out, _ = run_cli(capsys, "runs", "--store", store, *args)
        assert code == 0 and RUN_ID.findall(out) == expected, (args, out)
    code, out, _ = run_cli(capsys, "runs", "--store", store, "--ideal")
    assert out.splitlines()[0].split()[6] == "ideal" and out.splitlines()[2].split()[5] == "yes"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``hil demo`` once for the module (it runs the four MAC experiments)."""
    root = tmp_path_factory.mktemp("demo")
    capture = _Capture()
    with capture:
        code = main(["demo", "--out", str(root / "report"), "--store", str(root / "store")])
    return root, code, capture.out


class _Capture:
    """stdout of a call, for a module-scoped fixture (capsys is per test)."""

    def __enter__(self):
        import io
        self._old, sys.stdout = sys.stdout, io.StringIO()
        return self

    def __exit__(self, *exc):
        self.out = sys.stdout.getvalue()
        sys.stdout = self._old


def test_demo_runs_the_mac_experiments_and_writes_the_report(demo):
    root, code, out = demo
    names = [n for n in hil.experiment.names() if n.startswith("bss2.mac_")]
    assert len(names) == 6
    assert code == 0, out
    for name in names:
        assert re.search(rf"{re.escape(name)}\s+PASS", out)
    assert f"report: {root / 'report' / 'report.html'}" in out
    assert f"metrics: {root / 'report' / 'metrics.json'}" in out
    doc = json.loads((root / "report" / "metrics.json").read_text())
    assert doc["verdict"] == "PASS"
    assert sorted(e["experiment"] for e in doc["experiments"]) == names
    stored = ResultStore(root / "store").runs()
    assert sorted(r.experiment for r in stored) == names
    assert {e["run_id"] for e in doc["experiments"]} == {r.run_id for r in stored}
    html = (root / "report" / "report.html").read_text()
    # weight and input sweeps, noise, per neuron (fixed pattern and profile), per row, distance, gain,
    # sends and wait
    assert html.count('src="data:image/png;base64,') == 9
    figures = sorted(p.name for p in (root / "report" / "figures").iterdir())
    assert len(figures) == 18 and sum(f.endswith(".json") for f in figures) == 9


def test_report_from_stored_runs(demo, tmp_path, capsys):
    root, _, _ = demo
    ids = [r.run_id for r in ResultStore(root / "store").runs(experiment="bss2.mac_gain")]
    code, out, _ = run_cli(capsys, "report", *ids, "--store", str(root / "store"), "--out", str(tmp_path / "r"))
    assert code == 0
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert [e["run_id"] for e in doc["experiments"]] == ids
    code, _, err = run_cli(capsys, "report", "nope", "--store", str(root / "store"))
    assert code == 2 and "nope" in err


def test_demo_default_out_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "demo", "--store", str(tmp_path / "store"), "--serial", "EMU-0003")
    assert code == 0, out
    [report] = (tmp_path / "reports").iterdir()
    assert re.fullmatch(r"demo-\d{8}T\d{6}", report.name)
    assert (report / "report.html").is_file() and (report / "metrics.json").is_file()
    assert {r.serial for r in ResultStore(tmp_path / "store").runs()} == {"EMU-0003"}


def test_run_on_a_board_of_the_inventory(tmp_path, capsys):
    """`hil run --board NAME`: looked up in the inventory, leased, serial checked, stored as a board run."""
    from hil.server.process import BoardProcess

    with BoardProcess(serial="EMU-RUNB") as proc:
        inv = tmp_path / "inventory.toml"
        inv.write_text(f'[[board]]\nname = "b1"\nresource = "{proc.resource}"\nserial = "EMU-RUNB"\n'
                       'family = "bss2"\n')
        store = tmp_path / "store"
        code = main(["run", "bss2.mac_gain", "--board", "b1", "--inventory", str(inv), "--store", str(store)])
        assert code == 0, capsys.readouterr()
        (record,) = ResultStore(store).runs()
        assert (record.backend, record.serial, record.status) == ("board", "EMU-RUNB", "pass")
        code = main(["run", "bss2.mac_gain", "--board", "b1", "--inventory", str(inv), "--serial", "OTHER",
                     "--store", str(store)])
        assert code == 2
        assert "is not the serial of b1" in capsys.readouterr().err
        assert main(["run", "bss2.mac_gain", "--board", "b1", "--ideal", "--inventory", str(inv)]) == 2
        assert "--ideal" in capsys.readouterr().err
