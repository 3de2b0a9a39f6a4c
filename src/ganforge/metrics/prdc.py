"""Nearest-neighbour metrics: precision/recall (Kynkäänniemi et al. 2019, k=3) and
density/coverage (Naeem et al. 2020, k=5), plus nearest-neighbour search for memorisation.

Definitions (X real, Y generated, B(x, r) the closed ball, NND_k(x) the distance from x to its
k-th nearest neighbour in its own set, excluding itself):
  precision = share of Y inside some B(X_i, NND_k(X_i))
  recall    = share of X inside some B(Y_j, NND_k(Y_j))
  density   = 1/(kM) * sum_j #{i : Y_j in B(X_i, NND_k(X_i))}      (1 on average, can exceed 1)
  coverage  = share of X_i whose ball holds at least one Y_j
Distances are computed in chunks so 10k x 10k never sits in memory at once, in float64 after
centring on the real mean: |a|^2 + |b|^2 - 2ab loses small distances to rounding in float32.
"""
from __future__ import annotations

import numpy as np
import torch

CHUNK = 1024


def _t(x, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=dtype)


def _centre(*arrays, dtype=torch.float64) -> list[torch.Tensor]:
    ts = [_t(a, dtype) for a in arrays]
    mu = ts[0].mean(0, keepdim=True)
    return [t - mu for t in ts]


def _sqdist(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1, keepdim=True) + b_sq[None, :] - 2 * a @ b.T).clamp_min_(0)


def kth_radius(x, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    return _kth_sq(*_centre(x), (k,))[0].sqrt().numpy()


def _kth_sq(x: torch.Tensor, ks: tuple[int, ...]) -> list[torch.Tensor]:
    """Squared k-th neighbour distances for each k in `ks` (one pass). Squared, as the
    distances they are compared with: no rounding at the ball's edge."""
    if len(x) <= max(ks):
        raise ValueError(f"need more than k={max(ks)} points, got {len(x)}")
    x_sq = (x * x).sum(1)
    out = []
    for i in range(0, len(x), CHUNK):
        d = _sqdist(x[i:i + CHUNK], x, x_sq)
        d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")  # exclude self
        out.append(d.topk(max(ks), dim=1, largest=False).values)
    top = torch.cat(out)
    return [top[:, k - 1] for k in ks]


def nearest(a, b, skip=None, dtype=torch.float64) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `a`, (distance to, index of) its nearest row of `b`. `skip[i]` (a row
    index of `b`) is ignored for row i: leave-one-out when `a` is a subset of `b`. Pixel-space
    callers pass float32: their distances are large next to rounding and 60k x 784 halves."""
    b, a = _centre(b, a, dtype=dtype)
    b_sq = (b * b).sum(1)
    skip = None if skip is None else torch.as_tensor(skip, dtype=torch.int64)
    dist, idx = [], []
    for i in range(0, len(a), CHUNK):
        d = _sqdist(a[i:i + CHUNK], b, b_sq)
        if skip is not None:
            d[torch.arange(len(d)), skip[i:i + CHUNK]] = float("inf")
        v, j = d.min(1)
        dist.append(v)
        idx.append(j)
    return torch.cat(dist).double().sqrt().numpy(), torch.cat(idx).numpy()


def prdc(real, fake, k_pr: int = 3, k_dc: int = 5, cache: dict | None = None) -> dict:
    """precision, recall (k_pr) and density, coverage (k_dc) in one pass over real x fake.
    `cache` (a dict) keeps the real set's radii between calls with the same `real`."""
    x, y = _centre(real, fake)
    key = (k_pr, k_dc)
    if cache is not None and key in cache:
        r_pr, r_dc = cache[key]
    else:
        r_pr, r_dc = _kth_sq(x, (k_pr, k_dc))
        if cache is not None:
            cache[key] = (r_pr, r_dc)
    (r_fake,) = _kth_sq(y, (k_pr,))
    y_sq = (y * y).sum(1)
    in_real_ball = torch.zeros(len(y), dtype=torch.bool)
    recalled, covered, density_hits = [], [], 0
    for i in range(0, len(x), CHUNK):
        d = _sqdist(x[i:i + CHUNK], y, y_sq)                      # (chunk of real, all fake)
        in_real_ball |= (d <= r_pr[i:i + CHUNK, None]).any(0)
        recalled.append((d <= r_fake[None, :]).any(1))
        inside_dc = d <= r_dc[i:i + CHUNK, None]
        density_hits += int(inside_dc.sum())
        covered.append(inside_dc.any(1))
    return {"precision": float(in_real_ball.double().mean()),
            "recall": float(torch.cat(recalled).double().mean()),
            "density": density_hits / (k_dc * len(y)),
            "coverage": float(torch.cat(covered).double().mean())}
