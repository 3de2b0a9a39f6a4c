"""`pix2pix` (Isola et al. 2017): U-Net G, PatchGAN D on (input, output) pairs, adversarial + L1.
Data: a folder with A/ (inputs) and B/ (targets) holding same-named, aligned pairs."""
from __future__ import annotations

import torch

from .base import Phase
from .image_base import ImageToImage
from .losses import d_loss, g_loss


class Pix2Pix(ImageToImage):
    name = "pix2pix"
    summary = "paired image-to-image (U-Net + PatchGAN, adversarial + L1); DATA has A/ and B/"
    domains = "paired"
    l1_weight = 100.0            # the paper's lambda
    adv_weight = 1.0
    in_ch, out_ch = 3, 3
    warmup = 0                   # steps with the reconstruction loss only (colorize sets it)

    def net_specs(self, cfg):
        return {"G": {"net": "unet", "kwargs": dict(in_ch=self.in_ch, out_ch=self.out_ch, channels=cfg.channels,
                                                    depth=4)},
                "D": {"net": "patchgan", "kwargs": dict(in_ch=self.in_ch + self.out_ch, channels=cfg.channels,
                                                        n_layers=2, spectral=cfg.spectral_norm)}}

    def make_phases(self, cfg):
        return [Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas),
                Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, fresh_batch=False)]

    def split(self, x):
        return x[:, :3], x[:, 3:6]

    def recon(self, fake, target):
        """The reconstruction loss (weighted by l1_weight): L1, as in the paper."""
        return (fake - target).abs().mean()

    def g_step(self, batch, ctx):
        inp, target = self.split(batch[0])
        fake = self.apply_g(self.nets["G"], inp)
        rec = self.l1_weight * self.recon(fake, target)
        ctx["inp"], ctx["fake"], ctx["target"] = inp, fake.detach(), target
        stats = {"l1": (fake - target).abs().mean().detach()}
        if ctx["step"] < self.warmup:  # D still trains, so it is ready when the adversarial term starts
            return rec, stats
        adv = g_loss(self.cfg.loss, self.nets["D"](torch.cat([inp, fake], 1)))
        return self.adv_weight * adv + rec, {**stats, "g_loss": adv.detach()}

    def d_step(self, batch, ctx):
        D, inp = self.nets["D"], ctx["inp"]
        loss = d_loss(self.cfg.loss, D(torch.cat([inp, ctx["target"]], 1)), D(torch.cat([inp, ctx["fake"]], 1)))
        return loss, {"d_loss": loss.detach()}
