"""Text-conditioned conv G and D (sentence embedding in, as in GAN-INT-CLS / StackGAN).

G: conditioning augmentation (StackGAN) turns the sentence embedding e into c ~ N(mu(e),
sigma(e)) (the mean at sampling time), then z and c go through a DCGAN-style stack whose
BatchNorms take their scale and shift from c (text-conditional BN), so the words steer every
layer, not only the input.

D: conv features h of the image; logit = w.h + <P e, h> (a projection discriminator on the
text embedding, Miyato & Koyama 2018). The family trains it matching-aware: a real image
with a wrong caption counts as fake (Reed et al. 2016).
"""
from __future__ import annotations

import torch
from torch import nn

from .conv import _width, pyramid
from .layers import apply_spectral_norm, dcgan_init


TEXT_NORMS = ("dim", "global")


class TextBatchNorm(nn.Module):
    """BatchNorm whose per-channel scale (1 + gain) and shift are linear in the condition c."""

    def __init__(self, features: int, cond_dim: int, dims: int = 2):
        super().__init__()
        self.bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(features, affine=False)
        self.affine = nn.Linear(cond_dim, 2 * features)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gain, shift = self.affine(c).chunk(2, dim=1)
        shape = (len(c), -1) + (1,) * (x.dim() - 2)
        return self.bn(x) * (1 + gain.view(shape)) + shift.view(shape)


class TextConvGenerator(nn.Module):
    def __init__(self, z_dim: int, text_dim: int, out_shape: list[int], channels: int = 32,
                 cond_dim: int = 64, text_norm: str = "dim"):
        super().__init__()
        if text_norm not in TEXT_NORMS:
            raise ValueError(f"text_norm must be one of {TEXT_NORMS}, got {text_norm!r}")
        self.z_dim, self.text_dim, self.out_shape, self.text_norm_kind = z_dim, text_dim, list(out_shape), text_norm
        c_out, size = out_shape[0], out_shape[1]
        self.base, k = pyramid(size)
        # Sentence embeddings of one data set differ in a few directions (the words that vary).
        # "dim" standardises each dimension: those differences come first, but so does any
        # direction the training captions barely move in (a new phrasing lands far out there).
        # "global" centres them and divides by one overall scale: the embedding's geometry is kept.
        self.text_norm = nn.BatchNorm1d(text_dim, affine=False)
        self.ca = nn.Linear(text_dim, 2 * cond_dim)          # conditioning augmentation: mu, log var
        self.top = _width(channels, k)
        self.project = nn.Linear(z_dim + cond_dim, self.top * self.base ** 2)
        self.project_norm = TextBatchNorm(self.top * self.base ** 2, cond_dim, dims=1)
        self.up = nn.ModuleList(nn.ConvTranspose2d(_width(channels, lv), _width(channels, lv - 1), 4, 2, 1, bias=False)
                                for lv in range(k, 0, -1))
        self.norms = nn.ModuleList(TextBatchNorm(_width(channels, lv - 1), cond_dim) for lv in range(k, 0, -1))
        self.to_image = nn.Sequential(nn.Conv2d(channels, c_out, 3, 1, 1), nn.Tanh())
        dcgan_init(self)

    def condition(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(c, KL(N(mu, sigma) || N(0, I)) per example); c is drawn in training, the mean in eval."""
        mu, logvar = self.ca(self.normed(emb.float())).chunk(2, dim=1)
        logvar = logvar.clamp(-10, 10)
        c = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return c, kl

    def normed(self, emb: torch.Tensor) -> torch.Tensor:
        if self.text_norm_kind == "dim":
            return self.text_norm(emb)
        bn = self.text_norm
        if self.training and len(emb) > 1:
            bn(emb)  # updates the running statistics that sampling uses
            mean, var = emb.mean(0), emb.var(0, unbiased=False)
        else:
            mean, var = bn.running_mean, bn.running_var
        return (emb - mean) / (var.mean() + bn.eps).sqrt()

    def render(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.project_norm(self.project(torch.cat([z, c], 1)), c))
        h = h.view(-1, self.top, self.base, self.base)
        for conv, norm in zip(self.up, self.norms):
            h = torch.relu(norm(conv(h), c))
        return self.to_image(h)

    def forward(self, z: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.render(z, self.condition(emb)[0])


class TextConvDiscriminator(nn.Module):
    def __init__(self, in_shape: list[int], text_dim: int, channels: int = 32, spectral: bool = True):
        super().__init__()
        c_in, size = in_shape[0], in_shape[1]
        base, k = pyramid(size)
        layers = [nn.Conv2d(c_in, channels, 3, 1, 1), nn.LeakyReLU(0.2)]
        for level in range(k):
            layers += [nn.Conv2d(_width(channels, level), _width(channels, level + 1), 4, 2, 1), nn.LeakyReLU(0.2)]
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        feat = _width(channels, k) * base ** 2
        self.out = nn.Linear(feat, 1)
        self.text = nn.Linear(text_dim, feat)  # projection of the caption onto the image features
        dcgan_init(self)
        if spectral:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.out(h).squeeze(1) + (self.text(emb.to(h.dtype)) * h).sum(1)
