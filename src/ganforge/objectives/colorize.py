"""`colorize`: greyscale -> colour, pix2pix-style in CIE Lab. G sees the lightness L and predicts
the chroma (a, b); the output keeps the input's exact L. Data: one folder of colour photos."""
from __future__ import annotations

from ..data.colour import model_lab_to_rgb, rgb_to_model_lab
from . import register_family
from .pix2pix import Pix2Pix


@register_family("colorize")
class Colorize(Pix2Pix):
    domains = "one"
    task = "colorize"
    in_ch, out_ch = 1, 2

    def split(self, x):
        return rgb_to_model_lab(x[:, :3])

    def sampler_info(self):
        return dict(super().sampler_info(), colour_space="lab")

    def to_rgb(self, inp, out, target):
        grey = model_lab_to_rgb(inp, out * 0)
        return grey, model_lab_to_rgb(inp, out), model_lab_to_rgb(inp, target)
