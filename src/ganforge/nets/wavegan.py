"""WaveGAN's nets (Donahue, McAuley & Puckette, ICLR 2019), written from the paper, scaled down.

G: z (+ a label embedding) -> dense -> (16d, L/1024) -> five 1-D transposed convs, kernel 25,
stride 4 (16d -> 8d -> 4d -> 2d -> d -> 1 channels), ReLU between, tanh out: a waveform of L
samples in [-1, 1]. The paper's L is 16,384 (16 kHz, ~1 s, d = 64); here L is any multiple of
1,024 and d is an option, so ~1 s at 8 kHz (8,192 samples) fits a CPU.
D: the mirror, five strided 1-D convs (kernel 25, stride 4, LeakyReLU 0.2), each followed by
phase shuffle (below) except the last, then a linear logit; conditional D adds a projection
term <embed(y), features> (Miyato & Koyama 2018), as cgan's D does.

Phase shuffle (the paper's section 3.3): a strided conv stack can tell real from fake by the
periodic artefacts of transposed convs at fixed phases; shifting each example's activations by
a random -n..n samples (reflection-padded) between D's layers takes that cue away.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

KERNEL, STRIDE, LAYERS = 25, 4, 5
UPSAMPLE = STRIDE ** LAYERS  # 1024: the clip length is base x 1024


def phase_shuffle(x: torch.Tensor, n: int) -> torch.Tensor:
    """Shift each example of (B, C, L) by its own random offset in -n..n, reflection-padded."""
    if n <= 0:
        return x
    length = x.shape[-1]
    padded = F.pad(x, (n, n), mode="reflect")
    shifts = torch.randint(-n, n + 1, (x.shape[0],), device=x.device)
    out = torch.empty_like(x)
    for s in range(-n, n + 1):  # one slice per offset: 2n + 1 copies, not a per-example gather
        rows = (shifts == s).nonzero().flatten()
        if len(rows):
            out[rows] = padded[rows, :, n + s:n + s + length]
    return out


class WaveGenerator(nn.Module):
    def __init__(self, z_dim: int = 100, length: int = 8192, channels: int = 16, num_classes: int = 0):
        super().__init__()
        if length % UPSAMPLE or length < UPSAMPLE:
            raise ValueError(f"length must be a multiple of {UPSAMPLE}, got {length}")
        self.z_dim, self.length, self.num_classes = z_dim, length, num_classes
        self.base, width = length // UPSAMPLE, 16 * channels
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        self.dense = nn.Linear(z_dim * (2 if num_classes else 1), width * self.base)
        ups = []
        for i in range(LAYERS):
            c_in, c_out = width >> i, (width >> (i + 1)) if i < LAYERS - 1 else 1
            # padding 11 + output_padding 1: exactly 4x the length (kernel 25, stride 4)
            ups.append(nn.ConvTranspose1d(c_in, c_out, KERNEL, STRIDE, padding=11, output_padding=1))
        self.ups = nn.ModuleList(ups)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        h = F.relu(self.dense(z)).view(z.shape[0], -1, self.base)
        for i, up in enumerate(self.ups):
            h = up(h)
            h = torch.tanh(h) if i == LAYERS - 1 else F.relu(h)
        return h  # (B, 1, length)


class WaveDiscriminator(nn.Module):
    def __init__(self, length: int = 8192, channels: int = 16, num_classes: int = 0, shuffle: int = 2,
                 spectral: bool = False):
        super().__init__()
        if length % UPSAMPLE or length < UPSAMPLE:
            raise ValueError(f"length must be a multiple of {UPSAMPLE}, got {length}")
        self.shuffle = shuffle
        sn = spectral_norm if spectral else (lambda m: m)
        self.convs = nn.ModuleList(sn(nn.Conv1d(1 if i == 0 else channels << (i - 1), channels << i, KERNEL,
                                                STRIDE, padding=11)) for i in range(LAYERS))
        features = (channels << (LAYERS - 1)) * (length // UPSAMPLE)
        self.out = sn(nn.Linear(features, 1))
        self.embed = sn(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        h = x
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < LAYERS - 1 and self.training:  # a judge at sampling time (filters) sees no shuffle
                h = phase_shuffle(h, self.shuffle)
        h = h.flatten(1)
        logit = self.out(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit, None  # (logit, class logits): the shape of every D here
