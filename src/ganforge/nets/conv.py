"""DCGAN-style conv G and D for images of any size.

The nets double a base of 3..7 pixels, so they are built at the smallest such size S >= the
image's longer side (8, 28, 32, 64 exactly; 36 -> 40, 60 -> 64, 100 -> 112): G makes S x S and
crops the centre, D pads its input (zeros, real and fake alike) to S x S. Images keep their own
size and aspect, with no resampling; at most 1/7 of the side is padding.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..io.errors import GanforgeError
from .layers import (
    CondBatchNorm2d,
    DiscriminatorHead,
    LabelConcat,
    apply_spectral_norm,
    dcgan_init,
)


def pyramid(size: int) -> tuple[int, int]:
    """(base, k) with size == base * 2**k, base in 3..7 and k >= 1."""
    base, k = size, 0
    while base > 7 and base % 2 == 0:
        base, k = base // 2, k + 1
    if k == 0 or not 3 <= base <= 7:
        raise GanforgeError(f"image size {size} cannot be built by doubling a 3..7 base "
                            f"(e.g. 8, 16, 28, 32, 48, 64); resize with --image-size")
    return base, k


def build_size(h: int, w: int | None = None) -> int:
    """The smallest size >= max(h, w) that `pyramid` can build."""
    s = max(h, w or h, 6)
    while True:
        base = s
        while base > 7 and base % 2 == 0:
            base //= 2
        if 3 <= base <= 7 and base < s:
            return s
        s += 1


def _width(channels: int, level: int) -> int:
    return min(channels * 2 ** level, 512)


# Nearest x2 then a 3x3 conv (padding 1), along one axis: output 2m reads inputs m-1, m with taps
# w0, w1 + w2 and output 2m+1 reads m, m+1 with w0 + w1, w2, which is a stride-2 transposed conv
# (kernel 4, padding 1) with kernel [w2, w1 + w2, w0 + w1, w0]: row k of this matrix picks the taps.
_RESIZE_TAPS = torch.tensor([[0., 0., 1.], [0., 1., 1.], [1., 1., 0.], [1., 0., 0.]])


class ResizeConv(nn.Sequential):
    """Nearest-neighbour x2 upsampling followed by a 3x3 conv, computed as the one stride-2
    transposed conv it equals (see _RESIZE_TAPS): the same function and parameters (the
    Sequential's children hold them, so saved weights load either way), 2.25x fewer multiplies
    and no upsampled copy of the input."""

    def __init__(self, c_in: int, c_out: int, bias: bool = False):
        super().__init__(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self[1]
        m = _RESIZE_TAPS.to(device=conv.weight.device, dtype=conv.weight.dtype)
        k = torch.einsum("kd,oide,le->iokl", m, conv.weight, m)  # (in, out, 4, 4), as conv_transpose2d wants
        return F.conv_transpose2d(x, k.to(x.dtype), conv.bias, stride=2, padding=1)


class UpBlock(nn.Module):
    """x2 upsampling + BN + ReLU; the BN is class-conditional when `num_classes` > 0. `resize`:
    nearest-neighbour x2 then a 3x3 conv instead of a transposed conv, which cannot leave
    checkerboard artefacts (flat regions come out flat)."""

    def __init__(self, c_in: int, c_out: int, num_classes: int = 0, resize: bool = False):
        super().__init__()
        self.conv = ResizeConv(c_in, c_out) if resize else nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)
        self.norm = CondBatchNorm2d(c_out, num_classes) if num_classes else nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(x)
        return torch.relu(self.norm(h, labels) if isinstance(self.norm, CondBatchNorm2d) else self.norm(h))


class ConvGenerator(nn.Module):
    """z (+ label embedding) -> linear to base x base -> k up-blocks -> 3x3 conv -> tanh.

    `cond_bn`: conditional generators also condition every up-block's BatchNorm on the label
    (stronger label control than the input embedding alone). `upsample`: "transposed" or
    "resize" (see UpBlock)."""

    def __init__(self, z_dim: int, out_shape: list[int], channels: int = 64, num_classes: int = 0,
                 cond_bn: bool = False, upsample: str = "transposed"):
        super().__init__()
        self.z_dim, self.out_shape, self.num_classes = z_dim, list(out_shape), num_classes
        c_out, self.h, self.w = out_shape[0], out_shape[1], out_shape[-1]
        self.base, k = pyramid(build_size(self.h, self.w))
        self.cond = LabelConcat(num_classes, 32)
        top = _width(channels, k)
        self.project = nn.Sequential(nn.Linear(z_dim + self.cond.extra, top * self.base ** 2),
                                     nn.BatchNorm1d(top * self.base ** 2), nn.ReLU())
        bn_classes = num_classes if cond_bn else 0
        if upsample not in ("transposed", "resize"):
            raise GanforgeError(f"--upsample must be 'transposed' or 'resize', got {upsample!r}")
        self.up = nn.ModuleList(UpBlock(_width(channels, level), _width(channels, level - 1), bn_classes,
                                        resize=upsample == "resize")
                                for level in range(k, 0, -1))
        self.to_image = nn.Sequential(nn.Conv2d(channels, c_out, 3, 1, 1), nn.Tanh())
        self.top = top
        dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(self.cond(z, labels)).view(-1, self.top, self.base, self.base)
        for block in self.up:
            h = block(h, labels)
        return _crop(self.to_image(h), self.h, self.w)


class ConvDiscriminator(nn.Module):
    """Strided 4x4 convs down to a 3..7 base, then DiscriminatorHead on the flattened map.
    `class_pool`: the class terms (projection, AC head) read the map summed over space (as SNGAN's
    D does), so a class looks the same wherever in the image the object sits."""

    def __init__(self, in_shape: list[int], channels: int = 64, num_classes: int = 0,
                 projection: bool = True, aux_classifier: bool = False, spectral: bool = False,
                 mbstd: int = 0, class_pool: bool = False):
        super().__init__()
        self.mbstd, self.class_pool = mbstd, class_pool
        c_in, self.h, self.w = in_shape[0], in_shape[1], in_shape[-1]
        self.size = build_size(self.h, self.w)
        base, k = pyramid(self.size)
        layers = [nn.Conv2d(c_in, channels, 3, 1, 1), nn.LeakyReLU(0.2)]
        for level in range(k):
            layers += [nn.Conv2d(_width(channels, level), _width(channels, level + 1), 4, 2, 1),
                       nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        extra = base ** 2 if mbstd else 0  # one map: the std across a group, at the last level
        self.head = DiscriminatorHead(_width(channels, k) * base ** 2 + extra, num_classes, projection,
                                      aux_classifier, class_dim=_width(channels, k) if class_pool else None)
        dcgan_init(self)
        if spectral:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        h = self.features(_pad(x, self.size))
        hc = h.sum((2, 3)) if self.class_pool else None
        if self.mbstd:
            h = torch.cat([h, minibatch_std(h, self.mbstd)], 1)
        return self.head(h.flatten(1), labels, hc)


class ContentClassifier(nn.Module):
    """A small classifier of what an image shows: the image minus its own mean per channel
    (shapes apart from overall colour), average-pooled to at most `size` px, three conv blocks
    with BatchNorm, a linear class layer. cgan's --class-guide trains it on real images only and
    reads G's images with it in eval mode (measured with `pool_last`); the health monitor's label
    reader (monitor/reader.py) is the same net without the last max-pool. Trained alone on colour
    digits with random colours (mnist5k-rgb-64), a D-like net read 11% of held-out digits after
    800 steps, 71% with the mean colour taken out."""

    def __init__(self, in_ch: int, num_classes: int, width: int = 16, size: int = 32, pool_last: bool = True):
        super().__init__()
        self.size = size
        def block(i, o, pool=True):
            return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()] + ([nn.MaxPool2d(2)] if pool else [])
        self.body = nn.Sequential(*block(in_ch, width), *block(width, 2 * width), *block(2 * width, 4 * width, pool_last),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if max(x.shape[-2:]) > self.size:
            x = F.adaptive_avg_pool2d(x, (min(self.size, x.shape[-2]), min(self.size, x.shape[-1])))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        return self.body(x - x.mean((2, 3), keepdim=True))

    @torch.no_grad()
    def features(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """The pooled features before the class layer, in eval mode."""
        self.eval()
        body = self.body[:-1]
        return torch.cat([body((xi := self.pool(x[i:i + batch])) - xi.mean((2, 3), keepdim=True))
                          for i in range(0, len(x), batch)])


def minibatch_std(h: torch.Tensor, group: int) -> torch.Tensor:
    """ProGAN's minibatch standard deviation: for each group of `group` consecutive examples,
    the std of every feature across the group, averaged to one value and given to each member
    as an extra map. A collapsed batch has ~0 there, which D learns to call fake. Groups are
    consecutive so a real+fake batch in one pass never mixes the two (batch halves divide)."""
    n, _, hh, ww = h.shape
    g = math.gcd(group, n)
    s = h.float().reshape(n // g, g, *h.shape[1:]).std(1, unbiased=False)  # (n // g, C, H, W)
    s = s.mean((1, 2, 3)).to(h.dtype).repeat_interleave(g)                   # one value per example
    return s[:, None, None, None].expand(n, 1, hh, ww)


def _crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    H, W = x.shape[-2:]
    if (H, W) == (h, w):
        return x
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top:top + h, left:left + w]


def _pad(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h == w == size:
        return x
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(x, (left, size - w - left, top, size - h - top))
