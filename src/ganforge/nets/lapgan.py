"""LAPGAN generator (Denton et al. 2015) as one net: a coarse DCGAN generator, then per
pyramid level a conv refiner that adds a Laplacian band (detail) to the x2-upsampled image.
The refiners' noise is a fixed random projection of z, so a sample depends on z only."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conv import ConvGenerator


class Refiner(nn.Module):
    def __init__(self, c: int, channels: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c + 1, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.ReLU(),
                                 nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.ReLU(),
                                 nn.Conv2d(channels, c, 3, 1, 1))

    def forward(self, up: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([up, noise], 1))


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


class LapGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: list[int], channels: int = 32, levels: int = 2):
        super().__init__()
        c, size = out_shape[0], out_shape[1]
        self.z_dim, self.levels = z_dim, levels
        self.sizes = [size // 2 ** (levels - 1 - i) for i in range(levels)]  # coarse -> fine
        self.coarse = ConvGenerator(z_dim, [c, self.sizes[0], self.sizes[0]], channels)
        self.refiners = nn.ModuleList(Refiner(c, channels) for _ in range(levels - 1))
        g = torch.Generator().manual_seed(0)
        for i, s in enumerate(self.sizes[1:]):
            self.register_buffer(f"proj{i}", torch.randn(z_dim, s * s, generator=g) / z_dim ** 0.5)

    def noise(self, z: torch.Tensor, level: int) -> torch.Tensor:
        s = self.sizes[level + 1]
        return (z @ getattr(self, f"proj{level}")).view(-1, 1, s, s)

    def refine(self, level: int, coarse: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """One pyramid step: x2 upsample + generated band (also used by training, on real coarse)."""
        up = upsample(coarse)
        return (up + self.refiners[level](up, self.noise(z, level))).clamp(-1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.coarse(z)
        for level in range(self.levels - 1):
            x = self.refine(level, x, z)
        return x
