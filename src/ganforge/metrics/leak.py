"""Augmentation leak check: do generated images carry the augmentations D was shown?

A G that learned the augmented distribution instead of the data makes shifted, recoloured or
cut-out images (data-efficient-gans #84, stylegan2-ada-pytorch #175). Each statistic is computed
on generated images, on real ones, and on real ones passed through the full DiffAugment pipeline
(what a completely leaking G would make), so a reader sees where generated images fall between
"like the data" and "like the augmented data":

- centroid spread: sd (pixels) of each image's intensity centroid; translations widen it;
- brightness spread / contrast spread: sd over images of the mean and of the sd of intensity;
  colour jitter widens them;
- blank blocks: share of images with a flat square of side/4 px whose value differs from the
  image's border (a cutout hole; a flat background matches the border and does not count).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets.augment import Augment

FLAT = 2 / 255      # max-min within a window for it to be flat (two 8-bit levels)
OFF_BORDER = 0.1    # a flat window this far (in [0, 1]) from the border median is a hole
STATS = {"centroid_sd": "centroid spread (px)", "brightness_sd": "brightness spread",
         "contrast_sd": "contrast spread", "blank_blocks": "blank-block share"}


@torch.no_grad()
def leak_stats(x: torch.Tensor) -> dict:
    """Statistics of images (N, C, H, W) in [-1, 1] (see the module docstring)."""
    v = ((x.float().clamp(-1, 1) + 1) / 2).mean(dim=1)  # (N, H, W) intensity in [0, 1]
    n, h, w = v.shape
    mass = v.sum(dim=(1, 2)).clamp(min=1e-6)
    cy = (v.sum(dim=2) * torch.arange(h)).sum(1) / mass
    cx = (v.sum(dim=1) * torch.arange(w)).sum(1) / mass
    s = max(2, min(h, w) // 4)
    vv = v.unsqueeze(1)
    spread = F.max_pool2d(vv, s, 1) + F.max_pool2d(-vv, s, 1)  # max - min per window
    level = F.avg_pool2d(vv, s, 1)
    border = torch.cat([v[:, 0], v[:, -1], v[:, :, 0], v[:, :, -1]], dim=1).median(dim=1).values
    hole = (spread < FLAT) & ((level - border.view(n, 1, 1, 1)).abs() > OFF_BORDER)
    return {"centroid_sd": float((cy.var() + cx.var()).sqrt()),
            "brightness_sd": float(v.mean(dim=(1, 2)).std()),
            "contrast_sd": float(v.flatten(1).std(dim=1).std()),
            "blank_blocks": float(hole.flatten(1).any(dim=1).float().mean())}


@torch.no_grad()
def leak_check(real: torch.Tensor, generated: torch.Tensor, seed: int = 0) -> dict:
    """Rows of (statistic, generated, real, fully augmented real, position): position 0 = the
    generated statistic equals the real one, 1 = the augmented one; a leak moves it towards 1
    (a poor G can also sit far from both, on either side)."""
    with torch.random.fork_rng(devices=[]):  # the augmentation draws leave the caller's RNG alone
        torch.manual_seed(20_000 + seed)
        augmented = Augment("diffaug", real.shape[1])(real.float())
    g, r, a = leak_stats(generated), leak_stats(real), leak_stats(augmented)
    rows = [{"stat": k, "label": STATS[k], "generated": g[k], "real": r[k], "augmented_real": a[k],
             "position": (g[k] - r[k]) / (a[k] - r[k]) if abs(a[k] - r[k]) > 1e-9 else None} for k in STATS]
    return {"rows": rows,
            "protocol": f"{len(generated):,} generated vs {len(real):,} real; 'augmented real' = the real "
                        f"images through DiffAugment (translation, cutout, colour at p=1): what a fully leaking "
                        f"G would make"}
