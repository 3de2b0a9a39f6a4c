"""CycleGAN's ResNet generator (Johnson et al. 2016 / Zhu et al. 2017): 7x7 conv, two strided
downsamples, residual blocks, two upsamples, 7x7 conv, tanh. Upsampling is nearest + conv
(no checkerboard artefacts); BatchNorm keeps eval-mode output tile-independent."""
from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, channels: int = 32, n_blocks: int = 6):
        super().__init__()
        self.multiple, self.min_size = 4, 16
        c = channels
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, c, 7), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(2):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.BatchNorm2d(2 * c), nn.ReLU()]
            c *= 2
        layers += [ResBlock(c) for _ in range(n_blocks)]
        for _ in range(2):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c // 2, 3, 1, 1),
                       nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_ch, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
