"""The Yin-Yang data set (Kriener, Göltz and Petrovici 2021, arXiv:2102.08211), written
for this project: points of a disc labelled yin (0), yang (1) or dot (2).

A sample is ``(x, y, 1 - x, 1 - y)`` for a point (x, y) of the unit square inside the
disc of radius ``r_big`` around (0.5, 0.5): the mirrored coordinates give a linear
layer without bias a way to tell both ends of each axis apart. The classes are drawn
equally often (each sample picks its class first, then draws points until one of that
class comes up), from a seeded numpy generator, so a data set is the same on every
machine.
"""
from dataclasses import dataclass

import numpy as np
import torch

from ..contract import validation

CLASSES = ("yin", "yang", "dot")


@dataclass(frozen=True)
class YinYang:
    """The geometry: ``r_big`` the disc's radius, ``r_small`` the dots' (both in the unit square)."""

    r_small: float = 0.1
    """Radius of the two dots, 0 < r_small < r_big / 2."""
    r_big: float = 0.5
    """Radius of the whole disc, centred at (0.5, 0.5); 0 < r_big <= 0.5."""

    def __post_init__(self):
        validation.real("r_big", self.r_big, lo=1e-3, hi=0.5)
        validation.real("r_small", self.r_small, lo=1e-4, hi=self.r_big / 2 - 1e-4)

    def classify(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The class (0 yin, 1 yang, 2 dot) of each point, int64; points outside the disc
        get the class their position in it would have (callers keep them out)."""
        r, c = self.r_big, 0.5
        d_right = np.hypot(x - (c + r / 2), y - c)
        d_left = np.hypot(x - (c - r / 2), y - c)
        yin = (d_right <= self.r_small) | ((d_left > self.r_small) & (d_left <= r / 2)) | \
              ((y > c) & (d_right > r / 2))
        dot = (d_right < self.r_small) | (d_left < self.r_small)
        return np.where(dot, 2, (~yin).astype(np.int64))

    def sample(self, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` samples (1..10**7): features (size, 4) float32 in [0, 1], labels (size,)
        int64, the classes equally likely; the same for the same seed."""
        size = validation.integer("size", size, lo=1, hi=10**7)
        rng = np.random.default_rng(validation.integer("seed", seed, lo=0, hi=2**63 - 1))
        goal = rng.integers(0, len(CLASSES), size)
        points = np.empty((size, 2))
        missing = np.arange(size)
        while missing.size:     # rejection sampling, all pending samples at once
            xy = rng.random((missing.size, 2))
            inside = np.hypot(xy[:, 0] - 0.5, xy[:, 1] - 0.5) <= self.r_big
            hit = inside & (self.classify(xy[:, 0], xy[:, 1]) == goal[missing])
            points[missing[hit]] = xy[hit]
            missing = missing[~hit]
        features = np.concatenate([points, 1.0 - points], axis=1)
        return torch.tensor(features, dtype=torch.float32), torch.tensor(goal, dtype=torch.int64)


def dataset(size: int, seed: int, geometry: YinYang = YinYang()) -> torch.utils.data.TensorDataset:
    """``size`` samples of ``geometry`` as a torch data set of (features, label) pairs."""
    return torch.utils.data.TensorDataset(*geometry.sample(size, seed))
