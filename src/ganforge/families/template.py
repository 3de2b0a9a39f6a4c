"""A template family: the smallest complete family, to copy when adding one (ARCHITECTURE.md,
"How to add a family"). A least-squares GAN with MLP nets, for 2D points or small images.

It is not in the registry; `tests/test_families.py` registers it and trains it end to end, so
this file stays a working example. A family declares four things:
1. `Options`: the options it reads, as a dataclass extending RunOptions (others are refused);
2. `__init__(cfg, meta)`: JSON specs of its nets (rebuilt from NETS without code at load time),
   the nets, which keep an EMA, and its phases (one optimiser each, run in order every step);
3. the phase losses `(batch, ctx) -> (loss, stats)`: stats are 0-d tensors, logged every
   `log_every` steps (`d_loss`/`g_loss` are also watched by the health monitor);
4. `sampler_info()`: how to feed the saved generator (here noise of `z_dim`), so
   `ganforge.load(run)` can sample it in a fresh process.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nets import build_net
from .base import Family, Phase
from .options import RunOptions


@dataclass
class TemplateOptions(RunOptions):
    z_dim: int = 8
    hidden: int = 64
    ema_decay: float = 0.0


class TemplateGAN(Family):
    name = "template"
    summary = "example family: least-squares GAN with MLP nets (copy it to add a family)"
    Options = TemplateOptions
    losses = ()  # least squares always: no --loss option

    @classmethod
    def defaults(cls, meta: dict) -> dict:  # per kind of data; a built-in set's recipe may refine it
        return {"batch_size": 128} if meta.get("kind") == "points" else {}

    def __init__(self, cfg, meta: dict):
        self.cfg, shape = cfg, meta["shape"]
        self.specs = {
            "G": {"net": "mlp_g", "kwargs": dict(z_dim=cfg.z_dim, out_shape=shape, hidden=cfg.hidden, depth=2,
                                                 num_classes=0, tanh=meta["kind"] == "images")},
            "D": {"net": "mlp_d", "kwargs": dict(in_shape=shape, hidden=cfg.hidden, depth=2, num_classes=0)},
        }
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        self.ema = ("G",) if cfg.ema_decay > 0 else ()
        self.phases = [Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas),
                       Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas, fresh_batch=False)]

    def _fake(self, real):
        return self.nets["G"](torch.randn(real.shape[0], self.cfg.z_dim, device=real.device), None)

    def d_step(self, batch, ctx):
        real = batch[0]
        fake = self._fake(real).detach()
        real_score, fake_score = self.nets["D"](real)[0], self.nets["D"](fake)[0]
        loss = 0.5 * ((real_score - 1) ** 2).mean() + 0.5 * (fake_score ** 2).mean()
        return loss, {"d_loss": loss.detach()}

    def g_step(self, batch, ctx):
        loss = 0.5 * ((self.nets["D"](self._fake(batch[0]))[0] - 1) ** 2).mean()
        return loss, {"g_loss": loss.detach()}

    def sampler_info(self) -> dict:
        return {"input": "noise", "z_dim": self.cfg.z_dim, "num_classes": 0}
