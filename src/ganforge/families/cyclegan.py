"""`cyclegan` (Zhu et al. 2017): G_ab, G_ba (ResNet), D_a, D_b (PatchGAN), least-squares GAN
loss, cycle (10) and identity (5) L1 losses, and a history pool of 50 generated images per
domain that D sees instead of only the latest fakes. Data: A/ and B/ folders, unpaired.
The pools are nn.Modules with buffers so they are checkpointed and resume exactly."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Phase
from .image_base import ImageToImage
from .losses import d_loss, g_loss
from .options import RunOptions


@dataclass
class CycleGANOptions(RunOptions):  # least-squares loss always, as in the paper
    channels: int = 64
    image_size: int | None = None
    spectral_norm: bool = False


class CycleGAN(ImageToImage):
    name = "cyclegan"
    summary = "unpaired image-to-image (2 ResNet G, 2 PatchGAN D, cycle + identity); DATA has A/ and B/"
    Options = CycleGANOptions
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
