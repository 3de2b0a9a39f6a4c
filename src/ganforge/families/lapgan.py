"""`lapgan` (Denton et al. 2015): a Laplacian pyramid of generators, coarse to fine. Level 0 is
a DCGAN at the coarsest size; each finer level generates the detail band added to the upsampled
image below it. As in the paper, the finer levels train conditioned on the *real* coarser image
(each level is its own conditional GAN with its own D); sampling chains them from noise."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..io.errors import GanforgeError
from ..nets import build_net
from ..nets.conv import pyramid
from ..nets.lapgan import downsample, upsample  # also registers lapgan_g
from .augment import ada_stats, add_augment, augmented, default_augment
from .base import Family, Phase
from .losses import d_loss, g_loss
from .options import RunOptions


@dataclass
class LapGANOptions(RunOptions):
    loss: str = "ns"
    n_critic: int = 1
    z_dim: int = 64
    channels: int = 64
    ema_decay: float = 0.999
    image_size: int | None = None
    augment: str = "off"  # off | diffaug | ada on every level's D input (families/augment.py)


class LapGAN(Family):
    name = "lapgan"
    summary = "Laplacian pyramid: a coarse DCGAN plus x2 detail refiners, one D per level (images >= 16 px)"
    Options = LapGANOptions
    losses = ("ns", "minimax", "hinge", "ls")  # no gradient penalty for its per-level Ds

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        return dict(steps=3000, batch_size=64, channels=32, z_dim=64, **default_augment(meta))

    def __init__(self, cfg, meta: dict):
        self.cfg = cfg
        shape = meta["shape"]
        if meta["kind"] != "images" or shape[1] != shape[2]:
            raise GanforgeError(f"--model lapgan needs square images, got '{meta['name']}' {shape}; set --image-size")
        size, levels = shape[1], 1
        while levels < 3 and size % 2 ** levels == 0 and size // 2 ** levels >= 8:
            levels += 1
        if levels < 2:
            raise GanforgeError(f"--model lapgan needs images of at least 16 px, got {size}; set --image-size 32")
        pyramid(size // 2 ** (levels - 1))  # the coarse DCGAN must be buildable (clear error if not)
        c = shape[0]
        self.specs = {"G": {"net": "lapgan_g", "kwargs": dict(z_dim=cfg.z_dim, out_shape=shape,
                                                              channels=cfg.channels, levels=levels)}}
        coarse = size // 2 ** (levels - 1)
        self.specs["D0"] = {"net": "conv_d", "kwargs": dict(in_shape=[c, coarse, coarse], channels=cfg.channels)}
        for i in range(1, levels):  # D_i sees (upsampled coarse, image): conditional
            self.specs[f"D{i}"] = {"net": "patchgan", "kwargs": dict(in_ch=2 * c, channels=cfg.channels, n_layers=2)}
        self.nets = {k: build_net(s) for k, s in self.specs.items()}
        self.levels = levels
        add_augment(self, cfg, meta, channels=c)  # a finer D's (coarse, image) pair moves together
        self.ema = ("G",) if cfg.ema_decay > 0 else ()
        ds = tuple(k for k in self.nets if k.startswith("D"))
        self.phases = [Phase("D", ds, self.d_step, cfg.lr_d, cfg.betas, repeats=cfg.n_critic),
                       Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas, fresh_batch=False)]

    def _pyramid(self, real):
        """Real images at each level, coarse -> fine."""
        out = [real]
        for _ in range(self.levels - 1):
            out.insert(0, downsample(out[0]))
        return out

    def _fakes(self, real):
        G, z = self.nets["G"], torch.randn(real.shape[0], self.cfg.z_dim, device=real.device)
        pyr = self._pyramid(real)
        fakes = [G.coarse(z)] + [G.refine(i, pyr[i], z) for i in range(self.levels - 1)]
        return pyr, fakes

    def _score(self, level, x, coarse):
        D = self.nets[f"D{level}"]
        if level == 0:
            return D(augmented(self, x))[0]
        return D(augmented(self, torch.cat([upsample(coarse), x], 1)))

    def d_step(self, batch, ctx):
        with torch.no_grad():
            pyr, fakes = self._fakes(batch[0])
        reals = [self._score(i, pyr[i], pyr[i - 1] if i else None) for i in range(self.levels)]
        loss = sum(d_loss(self.cfg.loss, reals[i], self._score(i, fakes[i], pyr[i - 1] if i else None))
                   for i in range(self.levels))
        return loss, {"d_loss": loss.detach(), **ada_stats(self, reals[0], ctx)}

    def g_step(self, batch, ctx):
        pyr, fakes = self._fakes(batch[0])
        losses = [g_loss(self.cfg.loss, self._score(i, fakes[i], pyr[i - 1] if i else None)) for i in range(self.levels)]
        return sum(losses), {"g_loss": sum(losses).detach(), **{f"g_level{i}": l.detach() for i, l in enumerate(losses)}}

    def sampler_info(self) -> dict:
        return {"input": "noise", "z_dim": self.cfg.z_dim, "num_classes": 0}
