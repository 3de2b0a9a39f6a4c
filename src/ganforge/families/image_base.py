"""Shared base of the image-to-image families (pix2pix, colorize, srgan, inpaint, cyclegan).

Such a family brings its own data (`load_data`: random crops of full photos, see
data/photos.py) and defaults; the generic loop drives it like any other family. Subclasses
say how a batch of crops splits into (input, target) and how G maps input to output; the
saved generator.json describes the input so apps/ can apply it without training code.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.photos import load_photos
from ..io.errors import GanforgeError
from ..nets import build_net
from .base import Family
from .options import RunOptions


@dataclass
class ImageToImageOptions(RunOptions):
    loss: str = "ns"
    channels: int = 64
    image_size: int | None = None     # training crop size
    spectral_norm: bool = False       # spectral norm on every D layer

I2I_DEFAULTS = dict(image_size=64, batch_size=8, channels=32, steps=2000, ema_decay=0.0,
                    log_every=50, sample_every=500, ckpt_every=500)


class ImageToImage(Family):
    Options = ImageToImageOptions
    losses = ("ns", "minimax", "hinge", "ls")  # no gradient penalty for a PatchGAN here
    domains = "one"            # "one" folder, or "paired"/"unpaired" A/ and B/ sub-folders
    recipe: dict = I2I_DEFAULTS
    task = "translate"         # which apply command uses the saved generator
    next_command = "translate {run} INPUT.png --out translated/"

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        return dict(cls.recipe)

    @classmethod
    def load_data(cls, spec: str, opts: dict):
        """The family's own dataset (called by api.train instead of load_dataset)."""
        crop = opts.get("image_size") or cls.recipe["image_size"]
        return load_photos(spec, int(crop), cls.domains)

    def __init__(self, cfg, meta: dict):
        if meta.get("kind") != "image-crops":
            raise GanforgeError(f"--model {cfg.model} trains on photos (a folder, or 'photos'), "
                                f"not on '{meta.get('name')}'")
        self.cfg, self.meta = cfg, meta
        self.crop = int(meta["info"]["crop"])
        self.specs = self.net_specs(cfg)
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        g = self.nets[self.generator_name]
        if self.crop % g.multiple or self.crop < max(g.min_size, 16):
            raise GanforgeError(f"--image-size {self.crop} does not fit --model {cfg.model}: use a multiple "
                                f"of {g.multiple} of at least {max(g.min_size, 16)} (e.g. 32 or 64)")
        self.ema = ()
        self.phases = self.make_phases(cfg)

    # ---- subclass interface ----------------------------------------------------------
    def net_specs(self, cfg) -> dict:
        raise NotImplementedError

    def make_phases(self, cfg) -> list:
        raise NotImplementedError

    def split(self, x: torch.Tensor):
        """A batch of crops -> (input, target) tensors (target may be None)."""
        raise NotImplementedError

    def apply_g(self, net, inp: torch.Tensor) -> torch.Tensor:
        return net(inp)

    def to_rgb(self, inp, out, target):
        """Display versions (RGB in [-1, 1], output size) of input, output, target."""
        return inp, out, target

    def sampler_info(self) -> dict:
        g = self.nets[self.generator_name]
        return {"input": "image", "task": self.task, "in_channels": self.specs[self.generator_name]["kwargs"].get("in_ch", 3),
                "multiple": g.multiple, "min_size": max(g.min_size, 16), "scale": getattr(g, "scale", 1),
                "crop": self.crop}

    # ---- preview: rows of input | output | target --------------------------------------
    @torch.no_grad()
    def preview_png(self, trainer) -> bytes:
        from ..io.images import grid, png_bytes, to_uint8
        net = trainer.generator().net
        x = trainer.data.x[:8].to(trainer.device)
        with torch.random.fork_rng(devices=[]):  # preview masks must not move training's RNG
            torch.manual_seed(1234)
            inp, target = self.split(x)
        out = self.apply_g(net, inp)
        rows = [r for r in self.to_rgb(inp, out, target) if r is not None]
        tiles = torch.stack(rows, 1).flatten(0, 1).cpu()  # row i: input, output, target
        return png_bytes(grid(to_uint8(tiles), nrow=len(rows), upscale_to=128))
