"""Fully connected G and D: for 2D points, and the classic MLP GAN on flattened images."""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import DiscriminatorHead, LabelConcat, apply_spectral_norm


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: list[int], hidden: int = 128, depth: int = 2,
                 num_classes: int = 0, tanh: bool = True):
        super().__init__()
        self.z_dim, self.out_shape, self.num_classes = z_dim, list(out_shape), num_classes
        self.cond = LabelConcat(num_classes, min(hidden, 32))
        layers, width = [], z_dim + self.cond.extra
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, math.prod(out_shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.cond(z, labels)).view(-1, *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: list[int], hidden: int = 128, depth: int = 2, num_classes: int = 0,
                 projection: bool = True, aux_classifier: bool = False, spectral: bool = False):
        super().__init__()
        layers, width = [nn.Flatten()], math.prod(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.features = nn.Sequential(*layers)
        self.head = DiscriminatorHead(width, num_classes, projection, aux_classifier)
        if spectral:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        return self.head(self.features(x), labels)
