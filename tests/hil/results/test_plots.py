"""The figures: seed 000's figure 1 drawn as the seed draws it, titles naming the device, error
bars, axes that fit the data, and the data exported beside each figure."""
import json

import numpy as np

import hil
from hil.contract.result import ExperimentResult, RunContext
from hil.results import plots
from hil.results.report import write_report


def _context(ideal=False):
    return RunContext("emulator", "bss2", "EMU-0042", "BSS2-EMU", "emulator 0.1.0", "0.1.0",
                      "2026-12-01T00:00:00+00:00", "2026-12-01T00:00:01+00:00", ideal=ideal)


def _profile(distance):
    y = np.tile(np.arange(512, dtype=np.float64), (4, 1))
    y[1::2] += 2.0                                          # repeats 59 +- 1: std 1.1547, sem 0.5774
    raw = {"neuron_output": y}
    if distance is not None:
        raw["distance"] = distance
    return ExperimentResult("bss2.mac_neuron_profile", {}, raw, {"neuron_output": np.full(512, 3.0)}, (),
                            context=_context(ideal=True))


def test_the_seed_figure_puts_the_columns_next_to_the_drivers_in_the_middle():
    """The rig's drivers sit between columns 127 and 128: both are drawn at distance 0, the middle;
    the left half is mirrored (its axis inverted), so column 0 is at the figure's left edge."""
    from emulator.bss2.fixed_pattern import row_distance

    p = plots.neuron_output(_profile(np.tile(row_distance(), 2)))
    series = {s["name"]: s for s in p.data["series"]}
    left, right = series["hemisphere 0 left half"], series["hemisphere 0 right half"]
    assert dict(zip(left["neuron"], left["columns_from_drivers"]))[127] == 0
    assert dict(zip(left["neuron"], left["columns_from_drivers"]))[0] == 127
    assert dict(zip(right["neuron"], right["columns_from_drivers"]))[128] == 0
    h1 = series["hemisphere 1 left half"]
    assert dict(zip(h1["neuron"], h1["columns_from_drivers"]))[383] == 0
    assert "the left one mirrored" in p.caption and "between columns 127 and 128" in p.caption


def test_without_distances_the_seed_figure_counts_as_the_seed_does():
    p = plots.neuron_output(_profile(None))
    left = {s["name"]: s for s in p.data["series"]}["hemisphere 0 left half"]
    assert left["neuron"][:2] == [0, 1] and left["columns_from_drivers"][:2] == [0, 1]


def test_means_carry_their_standard_errors():
    p = plots.neuron_output(_profile(None))
    s = p.data["series"][0]
    assert s["mean"][5] == 6.0
    assert abs(s["standard_error"][5] - np.sqrt(4 / 3) / 2) < 1e-12


def test_every_figure_names_the_device_and_exports_its_data(tmp_path):
    with hil.backend.open("emulator", serial="EMU-0042", ideal=True) as backend:
        r = hil.experiment.run("bss2.mac_sends_and_wait", backend, repeats=2)
    [p] = plots.plots_for(r)
    assert p.key == "sends_and_wait" and p.data["device"] == "emulator:EMU-0042:ideal"
    paths = write_report([r], tmp_path)
    doc = json.loads(paths.json.read_text())
    [figure] = doc["experiments"][0]["figures"]
    data = json.loads((tmp_path / figure["data"]).read_text())
    assert data["units"]["wait"] == "FPGA cycles (8 ns)" and data["device"] == "emulator:EMU-0042:ideal"
    hundred = {s["name"]: s for s in data["series"]}["100 sends"]
    # The ideal chip reads floor(0.0019 * 100 * 384) = 72 at every wait: it has no leak.
    assert hundred["mean"] == [72.0] * 6 and hundred["wait"] == [0, 5, 50, 200, 1000, 4095]
    assert (tmp_path / figure["png"]).read_bytes().startswith(b"\x89PNG")


def test_axes_fit_data_that_stay_off_the_output_limits():
    x = np.arange(32)
    y = np.tile((x * 2.0)[:, None, None], (1, 2, 8))
    r = ExperimentResult("x", {}, {"inputs": x, "input_sweep": y}, {}, ())
    p = plots.input_sweep(r)
    assert p is not None and min(p.data["series"][0]["p5"]) == 0.0
    fig_lines = plots._limits_if_reached      # drawn only within 10 LSB of -128 or 127
    assert fig_lines is not None
