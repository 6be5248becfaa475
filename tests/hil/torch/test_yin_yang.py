"""The Yin-Yang data set and a small run of examples/yin_yang.py."""
import numpy as np
import pytest
import torch

from hil.errors import InvalidValue
from hil.torch import perceptron
from hil.torch.yin_yang import YinYang, dataset
from tests.support import REPO


def test_samples_are_balanced_reproducible_and_inside_the_disc():
    x, labels = YinYang().sample(3000, seed=4)
    assert x.shape == (3000, 4) and x.dtype == torch.float32 and labels.dtype == torch.int64
    torch.testing.assert_close(x[:, 2:], 1 - x[:, :2])
    assert ((x[:, :2] - 0.5).norm(dim=1) <= 0.5).all()
    counts = torch.bincount(labels, minlength=3)
    # Each class with probability 1/3: within 5 standard deviations of 1000.
    assert (counts - 1000).abs().max() <= 5 * np.sqrt(3000 * (1 / 3) * (2 / 3))
    again, same = YinYang().sample(3000, seed=4)
    assert torch.equal(again, x) and torch.equal(same, labels)
    assert not torch.equal(YinYang().sample(3000, seed=5)[0], x)
    assert len(dataset(10, seed=1)) == 10


def test_classes_sit_where_the_figure_has_them():
    g = YinYang()
    points = np.array([[0.75, 0.5], [0.25, 0.5], [0.5, 0.9], [0.5, 0.1], [0.9, 0.5], [0.1, 0.5]])
    # the two dots, the yin (upper) and yang (lower) far sides, then the yang and yin bulges
    assert g.classify(points[:, 0], points[:, 1]).tolist() == [2, 2, 0, 1, 1, 0]


def test_bad_geometry_and_sizes_raise():
    with pytest.raises(InvalidValue):
        YinYang(r_small=0.3)
    with pytest.raises(InvalidValue):
        YinYang().sample(0, seed=1)


def test_the_example_runs_small_and_learns(tmp_path):
    """A few epochs: clearly above chance in both phases (1/3; 0.5 is 8 standard deviations of
    chance's accuracy on 500 test samples above it), and the plot is written."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("yin_yang_example", REPO / "examples" / "yin_yang.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "regions.png"
    recipe = example.Recipe(train_size=1000, test_size=500, mock=example.Phase(8, 1.0, 0.9),
                            chip=example.Phase(1, 0.2, 0.8))
    with perceptron.init("emulator"):
        outcome = example.run(recipe, out=str(out), report=lambda line: None)
    assert outcome.mock_accuracy > 0.5 and outcome.chip_accuracy > 0.5, outcome
    assert out.stat().st_size > 10_000
