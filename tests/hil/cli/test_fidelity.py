"""``hil fidelity`` on the command line: a run over the emulator, the ideal chip and a virtual board."""
import json

from hil.cli import main
from hil.results.store import ResultStore
from hil.server.process import BoardProcess


def test_fidelity_over_emulator_ideal_and_board(tmp_path, capsys):
    with BoardProcess(serial="EMU-0042") as proc:
        code = main(["fidelity", "bss2.mac_neuron_profile", "bss2.mac_gain", "--device", "emulator:EMU-0042",
                     "--device", "emulator:EMU-0042:ideal", "--device", f"board:{proc.resource}",
                     "--set", "batch=20", "--set", "repeats=5", "--model-runs", "2",
                     "--store", str(tmp_path / "store"), "--out", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("check ideal = model: emulator:EMU-0042:ideal") == 2
    assert out.count("check board = emulator at the same run counter: board:EMU-0042") == 2
    assert "FAIL" not in out and "verdict: PASS" in out
    doc = json.loads((tmp_path / "rep" / "fidelity.json").read_text())
    assert doc["checks_passed"] and [e["params"] for e in doc["experiments"]] == \
        [{"input_value": 12, "weight_value": 21, "row": 0, "num_sends": 100, "repeats": 5},
         {"num_sends": 1, "batch": 20, "seed": 1234}]
    assert len(ResultStore(tmp_path / "store").runs()) == 6

    code = main(["fidelity", "bss2.mac_gain", "--device", "emulator:EMU-0042", "--runs", "latest",
                 "--model-runs", "0", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "rep2")])
    assert code == 0, capsys.readouterr()


def test_fidelity_usage_errors_exit_2(tmp_path, capsys):
    for args in (["bss2.mac_gain", "--device", "emu:X"],
                 ["bss2.mac_gain", "--device", "emulator:X", "--set", "nonsense=1"],
                 ["bss2.mac_gain", "--device", "emulator:X", "--runs", "latest", "--set", "batch=20"],
                 ["bss2.mac_gain", "--device", "emulator:X", "--model", "gain=-1"],
                 ["bss2.mac_gain", "--device", "emulator:X", "--model-runs", "65"]):
        assert main(["fidelity", *args, "--store", str(tmp_path), "--out", str(tmp_path / "r")]) == 2, args
        assert "error:" in capsys.readouterr().err


def test_run_takes_a_model_and_spec_and_stores_them(tmp_path, capsys):
    code = main(["run", "bss2.mac_gain", "--model", "gain=0.002,tau_leak=inf", "--spec", "gain_tolerance=0.01",
                 "--set", "batch=20", "--store", str(tmp_path)])
    assert code == 1                      # the chip gain, about 0.0019, is more than 1 % off 0.002
    store = ResultStore(tmp_path)
    r = store.load(store.runs()[0].run_id)
    assert r.model["model"] == {"class": "hil.bss2.MacModel", "gain": 0.002, "noise_std": 2.0, "tau_leak": "inf",
                                "neuron_gain": None, "block_rows": 128}
    assert r.model["spec"]["gain_tolerance"] == 0.01
    assert "gain_rel_error" in capsys.readouterr().out
