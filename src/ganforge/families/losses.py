"""Adversarial losses on raw discriminator outputs (logits), and the D regularisers."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind in ("ns", "minimax"):  # -log D(x) - log(1 - D(G(z)))
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    if kind == "ls":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()
    raise ValueError(kind)


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind == "ns":               # -log D(G(z)): strong gradients early (Goodfellow 2014)
        return F.softplus(-fake).mean()
    if kind == "minimax":          # log(1 - D(G(z))): the original saturating game
        return -F.softplus(fake).mean()
    if kind in ("hinge", "wgan-gp"):
        return -fake.mean()
    if kind == "ls":
        return 0.5 * ((fake - 1) ** 2).mean()
    raise ValueError(kind)


def d_prob(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """A [0, 1] 'how real' reading of D's output, for display: sigmoid, or clamp for LS."""
    if kind == "ls":
        return logits.clamp(0, 1)
    return torch.sigmoid(logits)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, labels=None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): one interpolation coefficient per *example*, not per pixel."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mix = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mix, labels)[0]
    (grad,) = torch.autograd.grad(out.sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): squared gradient norm of D on real data; scale by gamma/2."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()
