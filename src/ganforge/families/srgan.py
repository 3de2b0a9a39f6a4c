"""`srgan` (Ledig et al. 2017): SRResNet G (x2/x4 pixel shuffle), PatchGAN D on HR images.
Low-resolution inputs are bicubic (antialiased) downsamples of high-resolution crops.

Stage 1 (steps < warmup_steps): content loss only, i.e. SRResNet, the PSNR-oriented net.
Stage 2: content + 1e-3 x adversarial. The content loss is pixel L1 only: the paper's VGG
feature loss needs downloaded weights, and ganforge's shipped extractors are digit/fashion
CNNs that do not describe photos, so no feature term is used (noted in the README).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..io.errors import GanforgeError
from .base import Phase
from .image_base import I2I_DEFAULTS, ImageToImage, ImageToImageOptions
from .losses import d_loss, g_loss


def downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", align_corners=False, antialias=True)


@dataclass
class SRGANOptions(ImageToImageOptions):
    scale: int = 4                    # upscale factor (2 or 4)
    warmup_steps: int | None = None   # pixel-loss-only steps before the adversarial loss (None = steps // 4)


class SRGAN(ImageToImage):
    name = "srgan"
    summary = "super-resolution x2/x4 (SRResNet + PatchGAN, pixel warm-up then adversarial)"
    Options = SRGANOptions
    next_command = "upscale {run} IMAGE.png --out upscaled.png"
    task = "upscale"
    adv_weight = 1e-3
    # Measured (benchmarks/image_to_image.py, 300-900 warm-up steps): lr 2e-4 with Adam (0.5, 0.999)
    # learnt fastest (lr 5e-4 or beta1 0.9 were slower); the lr decays linearly to 0 over the run.
    recipe = dict(I2I_DEFAULTS, image_size=48, lr_decay=True)

    def net_specs(self, cfg):
        if cfg.scale not in (2, 4):
            raise GanforgeError(f"--scale must be 2 or 4, got {cfg.scale}")
        if self.crop % (cfg.scale * 4):
            raise GanforgeError(f"--image-size {self.crop} must be a multiple of {cfg.scale * 4} for x{cfg.scale}")
        return {"G": {"net": "srresnet", "kwargs": dict(in_ch=3, scale=cfg.scale, channels=cfg.channels, n_blocks=6)},
                "D": {"net": "patchgan", "kwargs": dict(in_ch=3, channels=cfg.channels, n_layers=3,
                                                        spectral=cfg.spectral_norm)}}

    def make_phases(self, cfg):
        if cfg.warmup_steps is None:  # saved as a number: extending the run (--steps) keeps it
            cfg.warmup_steps = cfg.steps // 4
        self.warmup = cfg.warmup_steps
        return [Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas),
                Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, fresh_batch=False)]

    def split(self, x):
        hr = x[:, :3]
        return downsample(hr, self.cfg.scale), hr

    def g_step(self, batch, ctx):
        lr, hr = self.split(batch[0])
        fake = self.nets["G"](lr)
        pixel = (fake - hr).abs().mean()
        ctx["fake"], ctx["hr"] = fake.detach(), hr
        if ctx["step"] < self.warmup:  # SRResNet stage: no adversarial term
            return pixel, {"pixel": pixel.detach()}
        adv = g_loss(self.cfg.loss, self.nets["D"](fake))
        return pixel + self.adv_weight * adv, {"pixel": pixel.detach(), "g_loss": adv.detach()}

    def d_step(self, batch, ctx):
        # D also trains during warm-up, so it is a ready critic when the adversarial stage begins.
        loss = d_loss(self.cfg.loss, self.nets["D"](ctx["hr"]), self.nets["D"](ctx["fake"]))
        return loss, {"d_loss": loss.detach()}

    def to_rgb(self, inp, out, target):
        return F.interpolate(inp, scale_factor=self.cfg.scale, mode="nearest"), out.clamp(-1, 1), target
