"""`cyclegan` (Zhu et al. 2017): G_ab, G_ba (ResNet), D_a, D_b (PatchGAN), least-squares GAN
loss, cycle (10) and identity (5) L1 losses, and a history pool of 50 generated images per
domain that D sees instead of only the latest fakes. Data: A/ and B/ folders, unpaired.
The pools are nn.Modules with buffers so they are checkpointed and resume exactly."""
from __future__ import annotations

import torch
from torch import nn

from . import register_family
from .base import Phase
from .image_base import ImageToImage
from .losses import d_loss, g_loss
from ..nets import patchgan, register_net, resnet_g  # noqa: F401  (registers the nets)


@register_net("image_pool")
class ImagePool(nn.Module):
    """Shrivastava et al. 2017: D is shown past fakes half the time, which damps oscillation."""

    def __init__(self, size: int, shape: list[int]):
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        out, size = [], self.images.shape[0]
        for f in fakes:
            n = int(self.count)
            if n < size:
                self.images[n] = f
                self.count += 1
                out.append(f)
            elif float(torch.rand(())) < 0.5:
                i = int(torch.randint(size, ()))
                out.append(self.images[i].clone())
                self.images[i] = f
            else:
                out.append(f)
        return torch.stack(out)


@register_family("cyclegan")
class CycleGAN(ImageToImage):
    domains = "unpaired"
    generator_name = "G_ab"
    cycle_weight, identity_weight = 10.0, 5.0

    def net_specs(self, cfg):
        g = {"net": "resnet_g", "kwargs": dict(in_ch=3, out_ch=3, channels=cfg.channels, n_blocks=6)}
        d = {"net": "patchgan", "kwargs": dict(in_ch=3, channels=cfg.channels, n_layers=2, spectral=cfg.spectral_norm)}
        pool = {"net": "image_pool", "kwargs": dict(size=50, shape=[3, self.crop, self.crop])}
        return {"G_ab": g, "G_ba": g, "D_a": d, "D_b": d, "pool_a": pool, "pool_b": pool}

    def make_phases(self, cfg):
        return [Phase("G", ("G_ab", "G_ba"), self.g_step, cfg.lr_g, cfg.betas),
                Phase("D", ("D_a", "D_b"), self.d_step, cfg.lr_d, cfg.betas, fresh_batch=False)]

    def split(self, x):
        return x[:, :3], x[:, 3:6]

    def g_step(self, batch, ctx):
        n = self.nets
        a, b = self.split(batch[0])
        fake_b, fake_a = n["G_ab"](a), n["G_ba"](b)
        adv = g_loss("ls", n["D_b"](fake_b)) + g_loss("ls", n["D_a"](fake_a))
        cycle = (n["G_ba"](fake_b) - a).abs().mean() + (n["G_ab"](fake_a) - b).abs().mean()
        ident = (n["G_ab"](b) - b).abs().mean() + (n["G_ba"](a) - a).abs().mean()
        ctx["a"], ctx["b"], ctx["fake_a"], ctx["fake_b"] = a, b, fake_a.detach(), fake_b.detach()
        loss = adv + self.cycle_weight * cycle + self.identity_weight * ident
        return loss, {"g_loss": adv.detach(), "cycle": cycle.detach(), "identity": ident.detach()}

    def d_step(self, batch, ctx):
        n = self.nets
        fa, fb = n["pool_a"].query(ctx["fake_a"]), n["pool_b"].query(ctx["fake_b"])
        loss = 0.5 * (d_loss("ls", n["D_a"](ctx["a"]), n["D_a"](fa)) + d_loss("ls", n["D_b"](ctx["b"]), n["D_b"](fb)))
        return loss, {"d_loss": loss.detach()}
