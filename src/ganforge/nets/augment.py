"""Differentiable augmentation of D's inputs, written from the papers: DiffAugment (Zhao et al.
2020: translation, cutout, colour, always on) and ADA (Karras et al. 2020: each op applied with
a probability p that an overfitting heuristic raises and lowers).

The pipeline is a module with buffers (p, the running r_t sums) held in the family's `nets`,
so the checkpoint saves it and resume is exact; its randomness comes from the global torch
RNG, which the checkpoint also saves. Every op is differentiable in its input (gather, masks,
affine colour maps), so G learns through it. Families apply it to real and fake alike, right
before D, and never to what G outputs for sampling.

Inputs may stack several images of `channels` channels along the channel axis (a conditional
D's (condition, image) pair): geometric ops move all of them together, colour ops apply the
same change to each.
"""
from __future__ import annotations

import torch
from torch import nn

KINDS = ("off", "diffaug", "ada")
SHIFT = 0.125       # translation: up to 1/8 of the side (DiffAugment)
CUTOUT = 0.5        # cutout: a square of half the side (DiffAugment)
ADA_TARGET = 0.6    # r_t = E[sign D(real)] target (ADA)
ADA_INTERVAL = 4    # D steps between p adjustments (ADA)
ADA_IMAGES = 50_000  # real images shown for p to move by 1 (ADA: 500k; our runs are ~10x shorter)
ADA_P_MAX = 0.6     # leak guard: p above ~0.6-0.8 lets the augmentations into G (ADA, fig. 3)


class Augment(nn.Module):
    """`kind` "diffaug": every op on every example; "ada": each op per example with prob p."""

    def __init__(self, kind: str, channels: int, batch_size: int = 64, target: float = ADA_TARGET):
        super().__init__()
        if kind not in KINDS[1:]:
            raise ValueError(f"augment kind must be diffaug or ada, got {kind!r}")
        self.kind, self.channels, self.target = kind, channels, target
        self.step_size = batch_size * ADA_INTERVAL / ADA_IMAGES
        self.register_buffer("p", torch.tensor(1.0 if kind == "diffaug" else 0.0))
        self.register_buffer("rt_sum", torch.zeros(()))   # sum of sign(D(real)) since the last adjustment
        self.register_buffer("rt_count", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.colour(x)
        x = self.translate(x)
        return self.cutout(x)

    def _chosen(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) bool: which examples get this op (all for diffaug, each with prob p for ada)."""
        if self.kind == "diffaug":
            return torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        return torch.rand(x.shape[0], device=x.device) < self.p

    def colour(self, x: torch.Tensor) -> torch.Tensor:
        """Brightness ±0.5, saturation x[0, 2] (colour images), contrast x[0.5, 1.5], in [-1, 1]
        units, as DiffAugment; one draw per example, shared by its stacked images."""
        b, c = x.shape[0], self.channels
        g = x.reshape(b, -1, c, *x.shape[2:]).float()
        one = (b, 1, 1, 1, 1)

        def maybe(changed):  # examples not chosen keep their exact values
            return torch.where(self._chosen(x).view(one), changed, g)
        g = maybe(g + (torch.rand(one, device=x.device) - 0.5))
        if c == 3:
            mean = g.mean(dim=2, keepdim=True)
            g = maybe((g - mean) * (torch.rand(one, device=x.device) * 2) + mean)
        mean = g.mean(dim=(2, 3, 4), keepdim=True)
        g = maybe((g - mean) * (torch.rand(one, device=x.device) + 0.5) + mean)
        return g.reshape(x.shape).to(x.dtype)

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """Integer shifts of up to 1/8 of each side, reflected at the border (no empty strip for
        D to read a shift from)."""
        b, _, h, w = x.shape
        on = self._chosen(x)
        idx = []
        for n in (h, w):
            s = max(1, int(n * SHIFT + 0.5))
            shift = torch.randint(-s, s + 1, (b, 1), device=x.device) * on.view(b, 1)
            i = torch.arange(n, device=x.device).view(1, n) - shift
            i = torch.where(i < 0, -i, i)                    # reflect at 0 ...
            idx.append(torch.where(i > n - 1, 2 * (n - 1) - i, i))  # ... and at n-1
        iy, ix = idx
        c = x.shape[1]
        x = torch.gather(x, 2, iy.view(b, 1, h, 1).expand(b, c, h, w))
        return torch.gather(x, 3, ix.view(b, 1, 1, w).expand(b, c, h, w))

    def cutout(self, x: torch.Tensor) -> torch.Tensor:
        """A square of half the side set to 0 (mid-grey) at a random place, as DiffAugment."""
        b, _, h, w = x.shape
        on = self._chosen(x).view(b, 1, 1)
        sh, sw = max(1, int(h * CUTOUT + 0.5)), max(1, int(w * CUTOUT + 0.5))
        cy = torch.randint(0, h + (1 - sh % 2), (b, 1, 1), device=x.device)
        cx = torch.randint(0, w + (1 - sw % 2), (b, 1, 1), device=x.device)
        dy = torch.arange(h, device=x.device).view(1, h, 1) - (cy - sh // 2)  # row - box top
        dx = torch.arange(w, device=x.device).view(1, 1, w) - (cx - sw // 2)
        hole = (dy >= 0) & (dy < sh) & (dx >= 0) & (dx < sw) & on
        return x * (~hole).unsqueeze(1).to(x.dtype)

    # ---- ADA: the overfitting heuristic ----------------------------------------------------
    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate r_t = E[sign(D(real))] (1 = D is certain about every real: overfitting)."""
        if self.kind == "ada":
            self.rt_sum.add_(torch.sign(real_logits.detach().float()).sum())
            self.rt_count.add_(real_logits.numel())

    @torch.no_grad()
    def adjust(self) -> torch.Tensor:
        """Move p by a fixed step towards keeping r_t at the target; returns r_t (0-d, no sync)."""
        rt = self.rt_sum / self.rt_count.clamp(min=1)
        if self.kind == "ada":
            step = torch.sign(rt - self.target) * self.step_size * (self.rt_count > 0)
            self.p.add_(step).clamp_(0.0, ADA_P_MAX)
            self.rt_sum.zero_()
            self.rt_count.zero_()
        return rt
