"""Exponential moving average of generator weights, and BN 'standing statistics' for sampling."""
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


@torch.no_grad()
def standing_stats(net: nn.Module, make_inputs, batches: int = 16) -> None:
    """Re-estimate BatchNorm running statistics of `net` from its own forward passes.

    EMA weights never produced the live G's running statistics, so samples in eval mode would
    be off; a few train-mode passes with a cumulative average fix that (BigGAN's 'standing
    statistics'). `make_inputs(i)` returns the forward inputs for pass i. No-op without BN.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the passes below
    was_training = net.training
    net.train()
    for i in range(batches):
        net(*make_inputs(i))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    net.train(was_training)
