"""pix2pix's U-Net generator (Isola et al. 2017): strided-conv encoder, transposed-conv decoder,
skip connections between mirrored levels. BatchNorm (not InstanceNorm) so that in eval mode a
pixel's output does not depend on which tile it was computed in."""
from __future__ import annotations

import torch
from torch import nn


class UNet(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, channels: int = 32, depth: int = 4, tanh: bool = True):
        super().__init__()
        self.multiple = 2 ** depth   # input sides must be multiples of this (tiling pads to it)
        self.min_size = 2 ** depth
        widths = [min(channels * 2 ** i, 256) for i in range(depth)]
        self.down = nn.ModuleList()
        c = in_ch
        for i, w in enumerate(widths):
            self.down.append(nn.Sequential(nn.Conv2d(c, w, 4, 2, 1), *(nn.BatchNorm2d(w),) * (i > 0),
                                           nn.LeakyReLU(0.2)))
            c = w
        self.up = nn.ModuleList()
        for i in range(depth - 1, 0, -1):
            c_in = widths[i] if i == depth - 1 else widths[i] * 2
            self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1),
                                         nn.BatchNorm2d(widths[i - 1]), nn.ReLU()))
        last = widths[0] * 2 if depth > 1 else widths[0]
        self.out = nn.Sequential(nn.ConvTranspose2d(last, out_ch, 4, 2, 1), *(nn.Tanh(),) * tanh)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
        skips.pop()
        for u in self.up:
            x = torch.cat([u(x), skips.pop()], 1)
        return self.out(x)
