"""`colorize`: greyscale -> colour, pix2pix-style in CIE Lab. G sees the lightness L of the
greyscale photo (the channel mean, as `ganforge colorize` makes it) and predicts the chroma
(a, b); the output keeps the input's exact L. Data: one folder of colour photos.

Recipe (measured in benchmarks/image_to_image.py): squared error on (a, b), so that a net that
has learnt nothing predicts the mean colour rather than the median (greyer) one, and the first
half of the steps (`--warmup-steps`) without the adversarial term; then + 0.1 x adversarial."""
from __future__ import annotations

from dataclasses import dataclass

from ..data.colour import model_lab_to_rgb, rgb_to_model_lab
from .image_base import I2I_DEFAULTS, ImageToImageOptions
from .pix2pix import Pix2Pix


@dataclass
class ColorizeOptions(ImageToImageOptions):
    warmup_steps: int | None = None   # reconstruction-only steps (None = steps // 2)


class Colorize(Pix2Pix):
    name = "colorize"
    summary = "greyscale -> colour in CIE Lab (pix2pix-style); DATA: a folder of colour photos"
    Options = ColorizeOptions
    next_command = "colorize {run} GREY.png --out colour.png"
    domains = "one"
    task = "colorize"
    in_ch, out_ch = 1, 2
    adv_weight = 0.1
    recipe = dict(I2I_DEFAULTS, lr_g=5e-4, lr_d=2e-4, betas=(0.9, 0.999), lr_decay=True)

    def make_phases(self, cfg):
        if cfg.warmup_steps is None:  # saved as a number: extending the run (--steps) keeps it
            cfg.warmup_steps = cfg.steps // 2
        self.warmup = cfg.warmup_steps
        return super().make_phases(cfg)

    def split(self, x):
        rgb = x[:, :3]
        grey = ((rgb + 1) * 127.5).mean(1, keepdim=True).round().div(127.5).sub(1).expand_as(rgb)
        return rgb_to_model_lab(grey)[0], rgb_to_model_lab(rgb)[1]

    def recon(self, fake, target):
        return (fake - target).pow(2).mean()

    def sampler_info(self):
        return dict(super().sampler_info(), colour_space="lab")

    def to_rgb(self, inp, out, target):
        grey = model_lab_to_rgb(inp, out * 0)
        return grey, model_lab_to_rgb(inp, out), model_lab_to_rgb(inp, target)
