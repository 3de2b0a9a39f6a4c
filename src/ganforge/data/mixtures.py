"""The 2D Gaussian mixtures of PacGAN/VEEGAN (GUIDE §5), drawn fresh every batch."""
from __future__ import annotations

import math

import torch

from .base import Dataset

GEOMETRY = {
    # 8 means on the unit circle at angles 2πk/8 (k = 0..7; not linspace(0, 2π, 8)), sd 0.01
    "ring8": (torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)]
                            for k in range(8)]), 0.01),
    # 25 means on {-4,-2,0,2,4}^2, sd 0.05
    "grid25": (torch.tensor([[float(a), float(b)] for a in (-4, -2, 0, 2, 4)
                             for b in (-4, -2, 0, 2, 4)]), 0.05),
}
REFERENCE_SIZE = 2500


def mixture_means(name: str) -> tuple[torch.Tensor, float]:
    means, sd = GEOMETRY[name]
    return means.clone(), sd


def load(name: str) -> Dataset:
    means, sd = mixture_means(name)

    def sample(n: int, gen: torch.Generator):
        k = torch.randint(len(means), (n,), generator=gen)
        return means[k] + sd * torch.randn(n, 2, generator=gen), k

    ref, ref_labels = sample(REFERENCE_SIZE, torch.Generator().manual_seed(12345))
    return Dataset(name=name, kind="points", x=ref, labels=ref_labels,
                   class_names=[f"mode{i}" for i in range(len(means))], sampler=sample,
                   info={"means": means.tolist(), "sd": sd})
