"""StyleGAN2-lite G and D, written from the papers (Karras et al. 2019, 2020), small enough for
a CPU.

G = mapping network (z [+ label embedding] -> w) + synthesis network: a learned constant at the
base size, then per resolution two 3x3 convolutions *modulated* by a style (an affine map of
w) and *demodulated* (each output channel rescaled to unit expected norm), per-pixel noise
with a learned strength, and a skip-connected toRGB at every level. One w per conv layer
(`n_ws`), so styles can be mixed between layers. `w_avg`, the tracked mean w per class, is a
buffer (saved with the weights) and sets the truncation centre: w' = w_avg + psi (w - w_avg).
In eval mode the noise inputs are fixed buffers, so a sampler is deterministic given z.

D = residual conv net with a minibatch-standard-deviation feature and a projection head for
labels. Both use equalised learning rates (weights N(0, 1), scaled by 1/sqrt(fan_in) at run
time). Sizes as the DCGAN nets (nets/conv.py): built at the next size a 3..7 base doubles to,
G crops, D pads.

`tanh=True` (what the stylegan family builds) bounds G's image with a tanh, as the DCGAN G.
The papers' linear output mode-collapsed on digits, whose pixels sit exactly at -1 on half the
image: the only way for an unbounded G to hit that floor everywhere was to shrink its spread
across z (0.91 untrained -> 0.25 by step 600, FID 868 -> 631); with the tanh the spread stays
near the data's 0.46 and FID falls (914 -> 75-83 at step 600, lr 5e-3). Older runs' specs have
no `tanh` and load as they were trained (linear).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conv import _crop, _pad, build_size, pyramid
from .layers import DiscriminatorHead

SQRT2 = math.sqrt(2.0)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2  # gain keeps activations' scale (equalised lr)


def _norm2(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.float().square().mean(dim=1, keepdim=True) + 1e-8).to(x.dtype)


class EqLinear(nn.Module):
    def __init__(self, c_in: int, c_out: int, bias_init: float = 0.0, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init)))
        self.w_gain, self.lr_mul = lr_mul / math.sqrt(c_in), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.w_gain, self.bias * self.lr_mul)


class EqConv2d(nn.Conv2d):
    """nn.Conv2d (so speed settings such as channels_last find it) with an equalised lr."""

    def __init__(self, c_in: int, c_out: int, k: int, bias: bool = True):
        super().__init__(c_in, c_out, k, padding=k // 2, bias=bias)
        nn.init.normal_(self.weight)
        if bias:
            nn.init.zeros_(self.bias)
        self.gain = 1.0 / math.sqrt(c_in * k * k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.gain, self.bias, padding=self.padding)


class ModConv(nn.Module):
    """Modulated (and optionally demodulated) conv, computed as scale input channels by the
    style, convolve with the shared weight, scale output channels by the demodulation factor:
    the same maths as per-example weights, with one ordinary convolution for the whole batch."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, k: int, demod: bool = True, up: bool = False):
        super().__init__()
        self.affine = EqLinear(w_dim, c_in, bias_init=1.0)
        self.conv = EqConv2d(c_in, c_out, k, bias=False)
        self.demod, self.up = demod, up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = self.conv(x * s[:, :, None, None])
        if self.demod:
            wsq = (self.conv.weight * self.conv.gain).square().sum(dim=(2, 3))  # (out, in)
            d = torch.rsqrt(s.square() @ wsq.t() + 1e-8)
            x = x * d[:, :, None, None]
        return x


class StyleLayer(nn.Module):
    """ModConv + per-pixel noise (learned strength) + bias + leaky ReLU."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, res: int, up: bool, noise_seed: int):
        super().__init__()
        self.conv = ModConv(c_in, c_out, w_dim, 3, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(c_out))
        g = torch.Generator().manual_seed(noise_seed)
        self.register_buffer("noise_const", torch.randn(1, 1, res, res, generator=g))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w)
        if self.training:  # fresh noise while training; fixed noise for a deterministic sampler
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const.to(x.dtype)
        return _act(x + noise * self.noise_strength + self.bias[:, None, None])


class ToRGB(nn.Module):
    def __init__(self, c_in: int, c_img: int, w_dim: int):
        super().__init__()
        self.conv = ModConv(c_in, c_img, w_dim, 1, demod=False)
        self.bias = nn.Parameter(torch.zeros(c_img))

    def forward(self, x, w):
        return self.conv(x, w) + self.bias[:, None, None]


def _widths(channels: int, k: int, cap: int = 256) -> list[int]:
    """Width per level, coarse (0) to fine (k): `channels` at the finest, doubling coarser."""
    return [min(channels * 2 ** (k - i), cap) for i in range(k + 1)]


class StyleGenerator(nn.Module):
    supports_truncation = True  # artifacts/noise.Generator accepts `truncation` for this net

    def __init__(self, z_dim: int, out_shape: list[int], w_dim: int = 64, map_layers: int = 2,
                 channels: int = 32, num_classes: int = 0, tanh: bool = False):
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes, self.tanh = z_dim, w_dim, num_classes, tanh
        c_img, self.h, self.w = out_shape[0], out_shape[1], out_shape[-1]
        self.base, k = pyramid(build_size(self.h, self.w))
        # mapping: lr x0.01 on its layers (StyleGAN) keeps w stable while the synthesis learns
        self.embed = nn.Embedding(num_classes, w_dim) if num_classes else None
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * map_layers
        self.mapping = nn.ModuleList(EqLinear(a, b, lr_mul=0.01) for a, b in zip(dims, dims[1:]))
        self.register_buffer("w_avg", torch.zeros(max(num_classes, 1), w_dim))
        wd = _widths(channels, k)
        self.const = nn.Parameter(torch.randn(wd[0], self.base, self.base))
        self.layers = nn.ModuleList([StyleLayer(wd[0], wd[0], w_dim, self.base, False, 0)])
        self.to_rgb = nn.ModuleList([ToRGB(wd[0], c_img, w_dim)])
        for i in range(1, k + 1):
            res = self.base * 2 ** i
            self.layers.append(StyleLayer(wd[i - 1], wd[i], w_dim, res, True, 2 * i - 1))
            self.layers.append(StyleLayer(wd[i], wd[i], w_dim, res, False, 2 * i))
            self.to_rgb.append(ToRGB(wd[i], c_img, w_dim))
        self.n_ws = len(self.layers)  # one w per conv layer; toRGB i shares its level's last w

    def _avg(self, labels):
        return self.w_avg[labels] if self.num_classes else self.w_avg[:1]

    def map(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float | None = None,
            track: float = 0.0) -> torch.Tensor:
        """z (B, z_dim) -> w (B, w_dim). `track` > 0 moves w_avg towards this batch's mean w
        (per class) with that rate (training); `truncation` psi pulls w towards w_avg."""
        x = _norm2(z)
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: pass labels")
            x = torch.cat([x, _norm2(self.embed(labels))], dim=1)
        for fc in self.mapping:
            x = _act(fc(x))
        if track > 0:
            self._track(x.detach().float(), labels, track)
        if truncation is not None and truncation != 1:
            avg = self._avg(labels).to(x.dtype)
            x = avg + truncation * (x - avg)
        return x

    @torch.no_grad()
    def _track(self, w: torch.Tensor, labels, rate: float) -> None:
        if not self.num_classes:
            self.w_avg.lerp_(w.mean(0, keepdim=True), rate)
            return
        sums = torch.zeros_like(self.w_avg).index_add_(0, labels, w)
        count = torch.bincount(labels, minlength=self.num_classes).to(w.dtype)[:, None]
        target = torch.where(count > 0, sums / count.clamp(min=1), self.w_avg)
        self.w_avg.lerp_(target, rate)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws (B, n_ws, w_dim) -> images (B, C, H, W)."""
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        x = self.layers[0](x, ws[:, 0])
        img = self.to_rgb[0](x, ws[:, 0])
        for i in range(1, len(self.to_rgb)):
            x = self.layers[2 * i - 1](x, ws[:, 2 * i - 1])
            x = self.layers[2 * i](x, ws[:, 2 * i])
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) \
                + self.to_rgb[i](x, ws[:, 2 * i])
        img = _crop(img, self.h, self.w)
        return img.tanh() if self.tanh else img

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        return w.unsqueeze(1).expand(-1, self.n_ws, -1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                truncation: float | None = None) -> torch.Tensor:
        return self.synthesis(self.broadcast(self.map(z, labels, truncation)))


class DBlock(nn.Module):
    """Two 3x3 convs and a 2x average-pool down, plus a 1x1 skip: (main + skip) / sqrt(2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0, self.conv1 = EqConv2d(c_in, c_in, 3), EqConv2d(c_in, c_out, 3)
        self.skip = EqConv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        skip = self.skip(F.avg_pool2d(x, 2))
        x = _act(self.conv1(F.avg_pool2d(_act(self.conv0(x)), 2)))
        return (x + skip) / SQRT2


class StyleDiscriminator(nn.Module):
    def __init__(self, in_shape: list[int], channels: int = 32, num_classes: int = 0, mbstd_group: int = 4):
        super().__init__()
        c_in, h, w = in_shape[0], in_shape[1], in_shape[-1]
        self.size = build_size(h, w)
        base, k = pyramid(self.size)
        wd = _widths(channels, k)
        self.from_rgb = EqConv2d(c_in, wd[k], 1)
        self.blocks = nn.ModuleList(DBlock(wd[i], wd[i - 1]) for i in range(k, 0, -1))
        self.mbstd_group = mbstd_group
        self.conv = EqConv2d(wd[0] + 1, wd[0], 3)
        self.fc = EqLinear(wd[0] * base * base, wd[0])
        self.head = DiscriminatorHead(wd[0], num_classes, projection=True)

    def _mbstd(self, x: torch.Tensor) -> torch.Tensor:
        """Std over groups of *consecutive* examples (a real+fake batch never shares a group
        when its halves are multiples of the group), averaged to one extra feature map."""
        n, c, h, w = x.shape
        g = math.gcd(self.mbstd_group, n)
        y = x.float().reshape(n // g, g, c, h, w)
        y = (y.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n/g,)
        y = y.repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, h, w).to(x.dtype)
        return torch.cat([x, y], dim=1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        x = _act(self.from_rgb(_pad(x, self.size)))
        for block in self.blocks:
            x = block(x)
        x = _act(self.conv(self._mbstd(x)))
        return self.head(_act(self.fc(x.flatten(1))), labels)
