"""Memorisation check: are generated samples closer to the training set than new real data is?

For each generated sample, the distance to its nearest training example (in pixel space:
RMS difference in [0, 1] intensity units) is compared with the same distance for *reference*
real data: a held-out split when the dataset has one, else training examples against the rest of
the training set (leave-one-out). A generated sample closer than the 1% quantile of the
reference distances is a "near copy"; a generator that makes fresh data like the reference has
about 1% of them, one that copies its training set many more.
"""
from __future__ import annotations

import numpy as np
import torch

from .prdc import nearest

QUANTILE = 0.01


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1).float()


def memorisation(train: torch.Tensor, generated: torch.Tensor,
                 heldout: tuple[torch.Tensor, str] | None = None, seed: int = 0,
                 closest: int = 8) -> dict:
    """`heldout` = (real examples never trained on, description) or None for leave-one-out."""
    tr, gen = _flat(train), _flat(generated)
    scale = 1.0 / (2.0 * np.sqrt(tr.shape[1]))  # L2 in [-1, 1] space -> RMS in [0, 1] units
    m = len(gen)
    d_gen, i_gen = nearest(gen, tr, dtype=torch.float32)
    g = torch.Generator().manual_seed(20_000 + seed)
    if heldout is not None:
        ref, label = _flat(heldout[0]), heldout[1]
        ref = ref[torch.randperm(len(ref), generator=g)[:m]]
        d_ref, _ = nearest(ref, tr, dtype=torch.float32)
        ref_label = "held-out real"
    else:
        idx = torch.randperm(len(tr), generator=g)[:m]
        d_ref, _ = nearest(tr[idx], tr, skip=idx, dtype=torch.float32)
        label = f"{len(idx):,} training examples vs the rest of the training set (leave-one-out)"
        ref_label = "real (leave-one-out)"
    d_gen, d_ref = d_gen * scale, d_ref * scale
    threshold = float(np.quantile(d_ref, QUANTILE))
    order = np.argsort(d_gen)[:closest]
    return {"n_generated": m, "n_train": len(tr), "reference": label, "reference_label": ref_label,
            "distance": "RMS pixel difference in [0, 1] units to the nearest training example",
            "median_generated": float(np.median(d_gen)), "median_reference": float(np.median(d_ref)),
            "quantile": QUANTILE, "threshold": threshold,
            "near_copy_share": float((d_gen < threshold).mean()),
            "closest": [{"generated": int(i), "train": int(i_gen[i]), "distance": float(d_gen[i])}
                        for i in order]}
