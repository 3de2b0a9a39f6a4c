"""Nets of the anomaly detectors, built from the GAN nets: conv for images, MLP for vectors
(2D points, encoded table rows).

Images get conv nets (DCGAN-style, as in both papers) unless `conv=False`: MLPs on the
flattened image, much cheaper on a CPU.

- `Encoder`: a discriminator's trunk with a linear latent head (x -> z).
- `GanomalyNet` (Akcay et al. 2018): encoder -> decoder -> encoder; score ||z - z'||², the
  reconstruction error, or both standardized on held-out normal items.
- `FAnoGANNet` (Schlegl et al. 2019): WGAN-GP generator G and critic D plus an izi encoder E;
  score = image residual + kappa x residual of D's features.

Every score is per item and computed by whoever calls `score` in eval mode, where BatchNorm
reads its running statistics, so an item's score does not depend on the rest of its batch
(GANomaly's reference code scores in train mode: samet-akcay/ganomaly #47).
"""
from __future__ import annotations

import torch
from torch import nn

from .conv import ConvDiscriminator, ConvGenerator
from .mlp import MLPDiscriminator, MLPGenerator


class LatentHead(nn.Module):
    """Replaces a discriminator's realness head: features -> z (same call signature)."""

    def __init__(self, feat_dim: int, z_dim: int):
        super().__init__()
        self.out = nn.Linear(feat_dim, z_dim)

    def forward(self, h: torch.Tensor, labels=None, hc=None):
        return self.out(h), None


def critic(in_shape, channels: int = 32, hidden: int = 128, depth: int = 2, conv: bool = True) -> nn.Module:
    if conv:
        return ConvDiscriminator(list(in_shape), channels)
    return MLPDiscriminator(list(in_shape), hidden, depth)


def decoder(in_shape, z_dim: int, channels: int = 32, hidden: int = 128, depth: int = 2,
            conv: bool = True) -> nn.Module:
    if conv:
        return ConvGenerator(z_dim, list(in_shape), channels)
    # images in [-1, 1] end in tanh; vectors (points, table rows) are unbounded
    return MLPGenerator(z_dim, list(in_shape), hidden, depth, tanh=len(in_shape) == 3)


class Encoder(nn.Module):
    """x -> z: the critic's trunk (which pads odd image sizes like D does) with a latent head."""

    def __init__(self, in_shape: list[int], z_dim: int, channels: int = 32, hidden: int = 128, depth: int = 2,
                 conv: bool = True):
        super().__init__()
        self.trunk = critic(in_shape, channels, hidden, depth, conv)
        self.trunk.head = LatentHead(self.trunk.head.out.in_features, z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)[0]


def critic_features(d: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features before the head, realness logit) of a conv_d / mlp_d critic in one pass."""
    seen = []
    hook = d.head.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        logit = d(x)[0]
    finally:
        hook.remove()
    return seen[0], logit


def per_item(t: torch.Tensor) -> torch.Tensor:
    """Mean over everything but the batch axis."""
    return t.flatten(1).mean(1)


SCORES = ("latent", "recon", "recon+latent", "recon+latent+knn", "recon+latent+cls", "recon+latent+knn+cls")
KNN_K = 5  # neighbours of the "knn" part


def mean_and_sd(values) -> torch.Tensor:
    """[mean, sd, mean, sd, ...] of each 1-D tensor (sd 1 for a single item; never 0)."""
    out = []
    for t in values:
        out += [float(t.mean()), max(float(t.std()) if len(t) > 1 else 1.0, 1e-12)]
    return torch.tensor(out)


class GanomalyNet(nn.Module):
    """GANomaly's generator: encoder G_E, decoder G_D, second encoder E. `score_by`: "latent"
    (the paper's ||z - z'||²), "recon" (||x - G(x)||²/n), "recon+latent": the sum of both, or
    "recon+latent+knn": plus the mean distance of z to its KNN_K nearest codes of training items
    (a bank of `bank_size` codes, `set_bank`), which, unlike the other parts, does not assume the
    normal codes form one blob; "+cls": plus 1 - the largest class probability of a linear head on z
    trained on the normal classes' labels (`num_classes` of them; an item of none of them should
    leave the head unsure). Summed parts are each standardized by their mean and sd on
    held-out normal items (`set_scale`; saved in the `scale` buffer, which only these scores
    have, so runs of the other two load as before; until set, as in a run of `ganforge train`
    rather than `ganforge anomaly fit`, the raw parts add and an empty bank adds nothing)."""

    def __init__(self, in_shape: list[int], z_dim: int = 64, channels: int = 32, hidden: int = 128, depth: int = 2,
                 conv: bool = True, score_by: str = "latent", bank_size: int = 0, num_classes: int = 0):
        super().__init__()
        if score_by not in SCORES:
            raise ValueError(f"score_by must be one of {', '.join(SCORES)}, got {score_by!r}")
        if "cls" in score_by and num_classes < 2:
            raise ValueError("a score with a class part needs num_classes >= 2 (labelled normal classes)")
        self.score_by = score_by
        self.enc = Encoder(in_shape, z_dim, channels, hidden, depth, conv)
        self.dec = decoder(in_shape, z_dim, channels, hidden, depth, conv)
        self.enc2 = Encoder(in_shape, z_dim, channels, hidden, depth, conv)
        n_parts = len(score_by.split("+"))
        if n_parts > 1:  # mean and sd of each part, in the order of `parts`
            self.register_buffer("scale", torch.tensor([0.0, 1.0] * n_parts))
        if "knn" in score_by:  # training codes, and the sd that scales each code axis
            self.register_buffer("bank", torch.zeros(bank_size, z_dim))
            self.register_buffer("bank_sd", torch.ones(z_dim))
        if num_classes >= 2:  # the normal classes, read from the code
            self.cls_head = nn.Linear(z_dim, num_classes)

    def forward(self, x: torch.Tensor):
        z = self.enc(x)
        recon = self.dec(z)
        return recon, z, self.enc2(recon)

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per item: (||x - G(x)||²/n, ||z - z'||²/n_z[, kNN distance of z to the bank])."""
        recon, z, z2 = self(x)
        out = (per_item((x - recon) ** 2), per_item((z - z2) ** 2))
        if "knn" in self.score_by:
            out += (self.knn_distance(z),)
        if "cls" in self.score_by:
            out += (1 - self.cls_head(z).float().softmax(1).max(1).values,)
        return out

    def knn_distance(self, z: torch.Tensor) -> torch.Tensor:
        if len(self.bank) == 0:
            return torch.zeros(len(z), device=z.device)
        d = torch.cdist(z / self.bank_sd, self.bank / self.bank_sd)
        return d.topk(min(KNN_K, len(self.bank)), largest=False).values.mean(1)

    def set_bank(self, z: torch.Tensor) -> None:
        """"knn": the codes E(x) of training items (the bank takes their number)."""
        self.bank = z.detach().float().to(self.bank.device)
        self.bank_sd = (z.std(0) if len(z) > 1 else torch.ones_like(z[0])).clamp_min(1e-8).float()

    def set_scale(self, *parts: torch.Tensor) -> None:
        """Summed scores: standardize each part by these (held-out normal) items' parts."""
        if hasattr(self, "scale"):
            self.scale.copy_(mean_and_sd(parts))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        parts = self.parts(x)
        if self.score_by == "recon":
            return parts[0]
        if self.score_by == "latent":
            return parts[1]
        return sum((p - self.scale[2 * i]) / self.scale[2 * i + 1] for i, p in enumerate(parts))

    def recon_error(self, x: torch.Tensor) -> torch.Tensor:
        return per_item((x - self(x)[0]).abs())


class FAnoGANNet(nn.Module):
    """f-AnoGAN: G (z -> x), critic D, encoder E (x -> z). The family trains the three parts
    as separate nets; saved together they are the detector."""

    def __init__(self, in_shape: list[int], z_dim: int = 64, channels: int = 32, hidden: int = 128,
                 depth: int = 2, conv: bool = True, kappa: float = 1.0):
        super().__init__()
        self.kappa = kappa
        self.G = decoder(in_shape, z_dim, channels, hidden, depth, conv)
        self.D = critic(in_shape, channels, hidden, depth, conv)
        self.E = Encoder(in_shape, z_dim, channels, hidden, depth, conv)

    def residuals(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per item: image residual ||x - G(E(x))||²/n and feature residual ||f(x) - f(G(E(x)))||²/n_f."""
        recon = self.G(self.E(x))
        fx, _ = critic_features(self.D, x)
        fr, _ = critic_features(self.D, recon)
        return per_item((x - recon) ** 2), per_item((fx - fr) ** 2)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        image, feature = self.residuals(x)
        return image + self.kappa * feature

    def recon_error(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(x)  # the izi_f objective: what the encoder was trained to lower


class DetectorEnsemble(nn.Module):
    """Detectors of one method fitted with different seeds (`ganforge anomaly fit --members`):
    an item's score is the mean of theirs, each standardized by its mean and sd on held-out
    normal items (`set_member_scale`), so members of different scales weigh the same. Averaging
    seeds evens out what one training run happened to learn (Lakshminarayanan et al. 2017)."""

    MAX_MEMBERS = 16

    def __init__(self, members: list[dict]):
        super().__init__()
        from . import build_net  # the registry holds this class too
        if not isinstance(members, list) or not 1 <= len(members) <= self.MAX_MEMBERS:
            raise ValueError(f"members must be a list of 1 to {self.MAX_MEMBERS} detector specs")
        if any(not isinstance(m, dict) or m.get("net") not in ("ganomaly", "fanogan") for m in members):
            raise ValueError("every member must be a ganomaly or fanogan detector")
        self.members = nn.ModuleList(build_net(m) for m in members)
        self.register_buffer("member_scale", torch.tensor([0.0, 1.0] * len(members)))

    def member_scores(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [m.score(x) for m in self.members]

    def set_member_scale(self, scores: list[torch.Tensor]) -> None:
        """Each member's mean and sd of score on held-out normal items."""
        self.member_scale.copy_(mean_and_sd(scores))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        s = self.member_scores(x)
        return sum((t - self.member_scale[2 * i]) / self.member_scale[2 * i + 1] for i, t in enumerate(s)) / len(s)

    def recon_error(self, x: torch.Tensor) -> torch.Tensor:
        return sum(m.recon_error(x) for m in self.members) / len(self.members)
