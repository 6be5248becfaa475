"""A two-layer perceptron trained on analog crossbar tiles with their pulsed update (hil.torch.crossbar).

    python examples/crossbar_mlp.py                 # the full run
    python examples/crossbar_mlp.py --quick         # a few seconds
    python examples/crossbar_mlp.py --epochs 5

The model is Scale(8) -> AnalogLinear(4, 64) -> tanh -> AnalogLinear(64, 3) on the Yin-Yang data set
(generated, no download; hil.torch.yin_yang), trained with AnalogSGD on cross-entropy in batches of 10,
three times from the same initial weights (the same torch seed: AnalogLinear draws its weights as
torch.nn.Linear does):

* on perfect tiles (``ideal=True`` emulated tiles: exact products, the exact update ``W -= lr d x``);
* on the default device (``RPUConfig()``: 7-bit DACs, 9-bit ADCs, output noise, constant-step devices of
  step 0.001 with 30 % device-to-device and cycle-to-cycle spreads and bounds near +-0.6: a mismatched
  emulated tile);
* in plain float torch (torch.nn.Linear and torch.optim.SGD with the same learning rate), for reference.

It prints the held-out test accuracy of each (chance: 1/3).
"""
import argparse
import time
from dataclasses import dataclass

import torch

import hil
from hil.crossbar import RPUConfig
from hil.torch.crossbar import AnalogLinear, AnalogSGD
from hil.torch.yin_yang import YinYang

TRAIN_SEED, TEST_SEED = 1, 2
"""Seeds of the training and the held-out test set (different points)."""
KINDS = ("perfect tile", "default device", "float torch")


@dataclass(frozen=True)
class Recipe:
    """How the three networks train."""

    epochs: int = 40
    """Passes over the training set, >= 1."""
    train_size: int = 3000
    test_size: int = 1000
    hidden: int = 64
    """Hidden units (the first tile's rows, the second's columns)."""
    input_scale: float = 8.0
    """The features (0..1) are multiplied by this before the first layer (see :class:`Scale`)."""
    lr: float = 0.1
    """The learning rate of AnalogSGD and of torch's SGD."""
    gamma: float = 0.95
    """Learning-rate decay per epoch."""
    batch_size: int = 10
    seed: int = 0
    """torch's seed for the initial weights and the batches' order."""


QUICK = Recipe(epochs=12, train_size=1000, test_size=500)
"""``--quick``: what a test runs in a few seconds."""


class Scale(torch.nn.Module):
    """``x * factor``. A device holds weights within about +-0.6 (DeviceConfig.w_min, w_max), less than
    the first layer of a Yin-Yang classifier needs of features 0..1; features ``factor`` times larger ask
    for weights ``factor`` times smaller. The tile's noise management divides each input vector by its
    largest magnitude before the DACs anyway, so the scale costs no converter range (aihwkit scales the
    weights into the devices' range with its mapping's ``weight_scaling_omega`` instead)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


def model(kind: str, recipe: Recipe) -> torch.nn.Module:
    """The network of ``kind`` (one of :data:`KINDS`), its weights drawn from ``recipe.seed``."""
    torch.manual_seed(recipe.seed)
    if kind == "float torch":
        return torch.nn.Sequential(Scale(recipe.input_scale), torch.nn.Linear(4, recipe.hidden), torch.nn.Tanh(),
                                   torch.nn.Linear(recipe.hidden, 3))
    ideal = kind == "perfect tile"
    tiles = [hil.backend.open("emulator", family="crossbar", shape=shape, serial=f"EMU-XB-MLP{i}", ideal=ideal)
             for i, shape in enumerate(((recipe.hidden, 4), (3, recipe.hidden)))]
    return torch.nn.Sequential(Scale(recipe.input_scale),
                               AnalogLinear(4, recipe.hidden, rpu_config=RPUConfig(), backend=tiles[0]),
                               torch.nn.Tanh(),
                               AnalogLinear(recipe.hidden, 3, rpu_config=RPUConfig(), backend=tiles[1]))


def train(net: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, labels: torch.Tensor,
          recipe: Recipe) -> None:
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=recipe.gamma)
    order = torch.Generator().manual_seed(recipe.seed)
    net.train()
    for _ in range(recipe.epochs):
        for idx in torch.randperm(len(x), generator=order).split(recipe.batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), labels[idx]).backward()
            optimizer.step()
        scheduler.step()


def accuracy(net: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        return float((net(x).argmax(dim=1) == labels).float().mean())


def run(recipe: Recipe, report=print) -> dict[str, float]:
    """Trains the three networks; returns the test accuracy (0..1) of each, by kind."""
    data = YinYang()
    x, labels = data.sample(recipe.train_size, TRAIN_SEED)
    x_test, labels_test = data.sample(recipe.test_size, TEST_SEED)
    result = {}
    for kind in KINDS:
        t0 = time.perf_counter()
        net = model(kind, recipe)
        opt = (torch.optim.SGD if kind == "float torch" else AnalogSGD)(net.parameters(), lr=recipe.lr)
        train(net, opt, x, labels, recipe)
        result[kind] = accuracy(net, x_test, labels_test)
        report(f"{kind:>15}: test accuracy {100 * result[kind]:5.1f} %  ({time.perf_counter() - t0:.1f} s)")
    return result


def main(argv=None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=None, help="passes over the training set (default: 40; "
                                                              f"{QUICK.epochs} with --quick)")
    p.add_argument("--quick", action="store_true", help=f"a short run: {QUICK.train_size} training and "
                                                        f"{QUICK.test_size} test samples")
    args = p.parse_args(argv)
    torch.set_num_threads(1)     # layers this small only wait for each other's threads
    recipe = QUICK if args.quick else Recipe()
    if args.epochs is not None:
        if args.epochs < 1:
            p.error("--epochs must be at least 1")
        recipe = Recipe(**{**recipe.__dict__, "epochs": args.epochs})
    print(f"Yin-Yang, Scale({recipe.input_scale:g}) -> AnalogLinear(4, {recipe.hidden}) -> tanh -> "
          f"AnalogLinear({recipe.hidden}, 3), "
          f"{recipe.train_size} training / {recipe.test_size} test samples, {recipe.epochs} epochs, "
          f"lr {recipe.lr:g}, batches of {recipe.batch_size}; chance 33.3 %")
    return run(recipe)


if __name__ == "__main__":
    main()
