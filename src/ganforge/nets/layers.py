"""Blocks shared by the architectures: label conditioning for G, the D output head, init."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class LabelConcat(nn.Module):
    """Conditions G by concatenating a learned label embedding to the noise vector."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim) if num_classes > 0 else None

    @property
    def extra(self) -> int:
        return self.embed.embedding_dim if self.embed is not None else 0

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        if labels is None:
            raise ValueError("this generator is conditional: pass labels")
        return torch.cat([z, self.embed(labels)], dim=1)


class CondBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (conditional BN, de Vries et al.
    2017, as in SNGAN-projection's G): labels steer every layer of G, not only its input."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(features, affine=False)
        self.gain = nn.Embedding(num_classes, features)
        self.shift = nn.Embedding(num_classes, features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


class DiscriminatorHead(nn.Module):
    """Turns D features h into a realness logit, optionally with a projection term
    <embed(y), h> (Miyato & Koyama 2018) and an AC-GAN class head (Odena et al. 2017).
    `class_dim`: the class terms read their own features `hc` of that size (a conv D's spatially
    pooled map), not h."""

    def __init__(self, feat_dim: int, num_classes: int = 0, projection: bool = True,
                 aux_classifier: bool = False, class_dim: int | None = None):
        super().__init__()
        self.out = nn.Linear(feat_dim, 1)
        cdim = class_dim or feat_dim
        self.proj = nn.Embedding(num_classes, cdim) if num_classes > 0 and projection else None
        self.aux = nn.Linear(cdim, num_classes) if num_classes > 0 and aux_classifier else None
        if self.proj is not None:
            nn.init.normal_(self.proj.weight, 0.0, 0.02)

    def forward(self, h: torch.Tensor, labels: torch.Tensor | None, hc: torch.Tensor | None = None):
        hc = h if hc is None else hc
        logit = self.out(h).squeeze(1)
        if self.proj is not None and labels is not None:
            logit = logit + (self.proj(labels) * hc).sum(dim=1)
        cls = self.aux(hc) if self.aux is not None else None
        return logit, cls


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral-normalise every Linear/Conv/Embedding weight in `module` (in place)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            setattr(module, name, spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv weights and N(1, 0.02) norm scales, as in Radford et al. 2016."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
