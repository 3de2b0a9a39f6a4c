"""Exponential moving average of generator weights (BN statistics for sampling: artifacts/noise.py)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `decay`-averaged copies of nets. Warm-up: decay ramps as (1+t)/(10+t) early on so
    the average is not dominated by the random initialisation."""

    def __init__(self, nets: dict[str, nn.Module], decay: float):
        self.decay = decay
        self.copies = {k: copy.deepcopy(n).eval().requires_grad_(False) for k, n in nets.items()}

    @torch.no_grad()
    def update(self, nets: dict[str, nn.Module], step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, avg in self.copies.items():
            live = nets[k]
            avg_p, live_p = list(avg.parameters()), list(live.parameters())
            torch._foreach_lerp_(avg_p, live_p, 1.0 - d)
            for b_avg, b_live in zip(avg.buffers(), live.buffers()):
                b_avg.copy_(b_live)
