"""Mode coverage on the 2D mixtures, with the PacGAN/VEEGAN protocol (GUIDE §5).

A sample is high quality (HQ) if it lies within 3 sd of its nearest mode; a mode is captured if
it is the nearest mode of at least one HQ sample; reverse KL is KL(p_gen || uniform) over the
mode assignment of the HQ samples (0 when every mode gets an equal share).
"""
from __future__ import annotations

import numpy as np

PROTOCOL = "PacGAN/VEEGAN: 2,500 samples, HQ = within 3 sd of nearest mode, rKL over HQ assignments"


def mode_stats(samples: np.ndarray, means: np.ndarray, sd: float) -> dict:
    samples, means = np.asarray(samples, np.float64), np.asarray(means, np.float64)
    d = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=2)
    nearest, dist = d.argmin(axis=1), d.min(axis=1)
    hq = dist <= 3 * sd
    counts = np.bincount(nearest[hq], minlength=len(means))
    captured = int((counts > 0).sum())
    if counts.sum() == 0:
        rkl = float("inf")
    else:
        p = counts / counts.sum()
        nz = p > 0
        rkl = float((p[nz] * np.log(p[nz] * len(means))).sum())
    return {"modes": captured, "of_modes": len(means), "high_quality": float(hq.mean()),
            "reverse_kl": rkl, "n": len(samples), "protocol": PROTOCOL}
