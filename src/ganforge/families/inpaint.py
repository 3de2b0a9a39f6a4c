"""`inpaint`: fill holes (Yu et al. 2019 style). G: gated convolutions on (smooth fill of the
hole, mask), predicting a correction to that fill (nets/gated.py), so an untrained G already
matches a classical smooth fill; D: spectral-norm PatchGAN on (image, mask) with hinge loss.
G loss: L1 reconstruction (holes weighted up) + a small adversarial term. Training masks:
free-form strokes, boxes, or both at once (a third each)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .base import Phase
from .image_base import I2I_DEFAULTS, ImageToImage
from .losses import d_loss, g_loss
from .options import RunOptions


def _segment_distance(yy, xx, p, q):
    d = q - p
    t = (((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / (d @ d + 1e-8)).clamp(0, 1)
    return torch.hypot(yy - (p[0] + t * d[0]), xx - (p[1] + t * d[1]))


def random_masks(n: int, size: int, device=None) -> torch.Tensor:
    """(n, 1, size, size) float masks, 1 = hole: half free-form brush strokes, half boxes.
    Uses torch's global RNG (checkpointed by the loop, so resume is exact)."""
    r = lambda lo, hi: lo + (hi - lo) * float(torch.rand(()))  # noqa: E731
    ar = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(ar, ar, indexing="ij")
    masks = torch.zeros(n, size, size)
    for i in range(n):
        if i % 2 == 0:  # free-form: 1-3 strokes of 2-5 segments, width 8-16% of the side
            for _ in range(int(torch.randint(1, 4, ()))):
                p, width = torch.rand(2) * size, r(0.08, 0.16) * size
                for _ in range(int(torch.randint(2, 6, ()))):
                    a, length = r(0, 2 * math.pi), r(0.15, 0.4) * size
                    q = (p + length * torch.tensor([math.sin(a), math.cos(a)])).clamp(0, size - 1)
                    masks[i] = torch.maximum(masks[i], (_segment_distance(yy, xx, p, q) < width / 2).float())
                    p = q
        else:  # a box covering 20-50% of each side
            h, w = int(r(0.3, 0.6) * size), int(r(0.3, 0.6) * size)
            y, x = int(torch.randint(size - h + 1, ())), int(torch.randint(size - w + 1, ()))
            masks[i, y:y + h, x:x + w] = 1
    return masks[:, None].to(device)


def training_masks(n: int, size: int, device=None) -> torch.Tensor:
    """A stroke, a box, or the union of both (a third each): large holes are common in use."""
    pairs = random_masks(2 * n, size).view(n, 2, 1, size, size)  # [stroke, box] per row
    pick = torch.randint(3, (n,))
    m = torch.where((pick == 2)[:, None, None, None], pairs.amax(1), pairs[torch.arange(n), pick.clamp(max=1)])
    return m.to(device)


@dataclass
class InpaintOptions(RunOptions):  # hinge loss and a spectral-norm D always (SN-PatchGAN)
    channels: int = 64
    image_size: int | None = None


class Inpaint(ImageToImage):
    name = "inpaint"
    summary = "fill holes (gated convolutions on a smooth fill + SN-PatchGAN); DATA: a folder of photos"
    Options = InpaintOptions
    next_command = "inpaint {run} IMAGE.png --mask MASK.png --out filled.png"
    task = "inpaint"
    adv_weight, hole_weight = 0.01, 5.0
    recipe = dict(I2I_DEFAULTS, image_size=48, lr_decay=True)

    def net_specs(self, cfg):
        return {"G": {"net": "gated_inpaint", "kwargs": dict(in_ch=3, channels=cfg.channels, coarse_fill=True)},
                "D": {"net": "patchgan", "kwargs": dict(in_ch=4, channels=cfg.channels, n_layers=2, spectral=True)}}

    def make_phases(self, cfg):
        return [Phase("G", ("G",), self.g_step, cfg.lr_g, cfg.betas),
                Phase("D", ("D",), self.d_step, cfg.lr_d, cfg.betas, fresh_batch=False)]

    def split(self, x):
        img = x[:, :3]
        return (img, training_masks(len(img), img.shape[-1], img.device)), img

    def apply_g(self, net, inp):
        return net(*inp)

    def g_step(self, batch, ctx):
        (img, mask), target = self.split(batch[0])
        out = self.nets["G"](img, mask)
        err = (out - target).abs()
        hole = (err * mask).sum() / mask.sum().clamp_min(1) / 3
        rec = self.hole_weight * hole + err.mean()
        adv = g_loss("hinge", self.nets["D"](torch.cat([out, mask], 1)))
        ctx["out"], ctx["mask"], ctx["real"] = out.detach(), mask, target
        return rec + self.adv_weight * adv, {"hole_l1": hole.detach(), "g_loss": adv.detach()}

    def d_step(self, batch, ctx):
        D, m = self.nets["D"], ctx["mask"]
        loss = d_loss("hinge", D(torch.cat([ctx["real"], m], 1)), D(torch.cat([ctx["out"], m], 1)))
        return loss, {"d_loss": loss.detach()}

    def to_rgb(self, inp, out, target):
        img, mask = inp
        return img * (1 - mask) + mask, out, target  # holes shown white
