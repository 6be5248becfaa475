"""``hil regress``: block benches and MAC experiments on the RTL, against the emulator of the same
serial and the model; the summary in HTML, JSON and JUnit, every disagreement with what reproduces it."""
import json
import xml.etree.ElementTree as ET

import pytest

from hil.cli import main
from hil.fidelity.compare import Check, ExperimentComparison
from hil.fidelity import Fidelity
from hil.regression.run import Regression, SerialRegression
from hil.regression.summary import disagreements
from hil.rtl.benches import BenchCheck, BenchResult, Coverage
from hil.rtl.geometry import RtlGeometry

pytestmark = pytest.mark.rtl


def test_hil_regress_writes_its_summary(tmp_path, capsys):
    out = tmp_path / "regress"
    code = main(["regress", "--ideal", "--blocks", "noise", "--experiments", "bss2.mac_neuron_profile",
                 "--set", "repeats=2", "--set", "num_sends=5", "--model-runs", "1",
                 "--out", str(out), "--store", str(tmp_path / "store")])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "RTL = emulator at the same run counter: PASS (0 of" in text
    doc = json.loads((out / "regression.json").read_text())
    assert doc["passed"] and doc["simulator"] == "icarus" and doc["ideal"]
    [chip] = doc["chips"]
    [bench] = chip["benches"]
    assert bench["block"] == "noise" and bench["passed"]
    [experiment] = chip["experiments"]
    checks = {(c["claim"], c["device"]): c for c in experiment["checks"]}
    assert set(checks) == {("RTL = emulator at the same run counter", "rtl:EMU-0042:ideal"),
                           ("ideal = model", "rtl:EMU-0042:ideal"),
                           ("ideal = model", "emulator:EMU-0042:ideal:core=32x32x1")}
    assert all(c["compared"] > 0 and c["mismatches"] == 0 for c in checks.values())
    assert chip["disagreements"] == []
    assert (out / "EMU-0042" / "fidelity.html").exists()
    suites = ET.parse(out / "junit.xml").getroot()
    cases = [c.get("classname") for c in suites.iter("testcase")]
    assert "bench.noise" in cases and "coverage.noise" in cases and "exact.bss2.mac_neuron_profile" in cases
    assert not list(suites.iter("failure"))
    html = (out / "regression.html").read_text()
    assert "Functional coverage" in html and "RTL = emulator at the same run counter" in html


def test_every_disagreement_is_listed_with_what_reproduces_it():
    case = {"activation": 12, "driver": 5, "expected": 3.5, "got": 3.25}
    bench = BenchResult("synapse_driver", "icarus", "EMU-0042", False,
                        (BenchCheck("pulse", "analog", 100, 1, "exact", 0.25, "emulator", (case,)),),
                        (Coverage("trim", 63, 64),), False)
    example = {"raw": "neuron_output", "index": [0, 5], "value": 3, "emulator": 4,
               "experiment": "bss2.mac_neuron_profile", "params": {"repeats": 2}, "serial": "EMU-0042",
               "ideal": False, "run_counter_first": 7}
    check = Check("RTL = emulator at the same run counter", "rtl:EMU-0042", "emulator:EMU-0042", 96, 1,
                  examples=(example,))
    fidelity = Fidelity((ExperimentComparison("bss2.mac_neuron_profile", {"repeats": 2}, (), (), None, (),
                                              (check,)),))
    chip = SerialRegression("EMU-0042", (bench,), fidelity, 1.0)
    found = disagreements(chip)
    assert [(d["where"], d["what"], d["stage"]) for d in found] == [
        ("bench synapse_driver", "pulse", "analog"), ("bench synapse_driver", "coverage trim", "coverage"),
        ("experiment bss2.mac_neuron_profile", "RTL = emulator at the same run counter", "exact")]
    assert found[0]["case"] == case and found[2]["case"] == example
    assert not Regression("icarus", False, RtlGeometry(), "", "", (chip,)).passed
