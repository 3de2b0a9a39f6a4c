"""SRResNet generator (Ledig et al. 2017): residual blocks at low resolution, then x2
pixel-shuffle stages. It predicts a correction to the bicubic upscale, so an untrained net
starts at bicubic quality and training only has to add detail."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.PReLU(c),
                                  nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class SRResNet(nn.Module):
    def __init__(self, in_ch: int = 3, scale: int = 4, channels: int = 32, n_blocks: int = 6):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4, got {scale}")
        self.scale, self.multiple, self.min_size = scale, 1, 4
        self.head = nn.Sequential(nn.Conv2d(in_ch, channels, 9, 1, 4), nn.PReLU(channels))
        self.body = nn.Sequential(*[SRBlock(channels) for _ in range(n_blocks)],
                                  nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels))
        ups = []
        for _ in range(scale // 2):
            ups += [nn.Conv2d(channels, channels * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(channels)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(channels, in_ch, 9, 1, 4)
        nn.init.zeros_(self.tail.weight)  # start exactly at bicubic
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.body(h)
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + self.tail(self.up(h))
