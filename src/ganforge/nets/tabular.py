"""Nets for tables (CTGAN-class, Xu et al. 2019): a residual MLP generator whose input is noise
plus the conditional vector, and a PacGAN critic that scores `pac` rows at once."""
from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """FC -> BN -> ReLU, with the input concatenated to the output (widths add up)."""

    def __init__(self, i: int, o: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x):
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


class TableGenerator(nn.Module):
    """(z, cond) -> raw outputs; the family applies tanh / (Gumbel-)softmax per block."""

    def __init__(self, z_dim: int, cond_dim: int, out_dim: int, hidden: list[int]):
        super().__init__()
        layers, width = [], z_dim + cond_dim
        for h in hidden:
            layers.append(Residual(width, h))
            width += h
        layers.append(nn.Linear(width, out_dim))
        self.body = nn.Sequential(*layers)
        self.z_dim, self.cond_dim = z_dim, cond_dim

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(torch.cat([z, cond], 1) if cond is not None and self.cond_dim else z)


class TableCritic(nn.Module):
    """Scores packs: input (B / pac, pac * (data_dim + cond_dim)) -> (logit, None)."""

    def __init__(self, in_dim: int, pac: int, hidden: list[int], dropout: float = 0.5):
        super().__init__()
        layers, width = [], in_dim * pac
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)
        self.pac = pac

    def forward(self, packed: torch.Tensor, labels=None):
        return self.body(packed).squeeze(1), None
