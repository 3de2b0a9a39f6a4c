"""Inpainting generator with gated convolutions (Yu et al. 2019, "Free-Form Image Inpainting
with Gated Convolution"): each layer learns a soft per-pixel gate, so features from the hole
are suppressed instead of being averaged in as with plain convs. Input: masked image + mask."""
from __future__ import annotations

import torch
from torch import nn

from . import register_net


class GatedConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1, act: bool = True):
        super().__init__()
        pad = dilation * (k - 1) // 2
        self.conv = nn.Conv2d(c_in, 2 * c_out, k, stride, pad, dilation=dilation)
        self.act = act

    def forward(self, x):
        h, g = self.conv(x).chunk(2, dim=1)
        return (nn.functional.elu(h) if self.act else h) * torch.sigmoid(g)


@register_net("gated_inpaint")
class GatedInpaintNet(nn.Module):
    """Encoder (x4 down), dilated gated convs for a wide receptive field, decoder (x4 up)."""

    def __init__(self, in_ch: int = 3, channels: int = 32):
        super().__init__()
        self.multiple, self.min_size = 4, 16
        c = channels
        self.net = nn.Sequential(
            GatedConv(in_ch + 1, c, 5), GatedConv(c, 2 * c, 3, 2), GatedConv(2 * c, 2 * c),
            GatedConv(2 * c, 4 * c, 3, 2), GatedConv(4 * c, 4 * c),
            *[GatedConv(4 * c, 4 * c, 3, dilation=d) for d in (2, 4, 8, 2)],
            nn.Upsample(scale_factor=2, mode="nearest"), GatedConv(4 * c, 2 * c),
            nn.Upsample(scale_factor=2, mode="nearest"), GatedConv(2 * c, c),
            GatedConv(c, in_ch, 3, act=False))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """image in [-1, 1] with anything in the hole; mask (N, 1, H, W), 1 = hole. The output
        keeps the known pixels and fills the hole."""
        x = torch.cat([image * (1 - mask), mask], 1)
        filled = torch.tanh(self.net(x))
        return image * (1 - mask) + filled * mask
