"""PatchGAN discriminator (Isola et al. 2017): a fully convolutional net whose output is a map
of real/fake logits, one per overlapping patch (70x70 with 3 strided layers at full width)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchGAN(nn.Module):
    def __init__(self, in_ch: int, channels: int = 32, n_layers: int = 3, spectral: bool = False):
        super().__init__()
        sn = spectral_norm if spectral else (lambda m: m)
        layers, c = [sn(nn.Conv2d(in_ch, channels, 4, 2, 1)), nn.LeakyReLU(0.2)], channels
        for i in range(1, n_layers + 1):
            w = min(channels * 2 ** i, 256)
            stride = 2 if i < n_layers else 1
            layers += [sn(nn.Conv2d(c, w, 4, stride, 1)), nn.LeakyReLU(0.2)]
            c = w
        layers.append(sn(nn.Conv2d(c, 1, 4, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
