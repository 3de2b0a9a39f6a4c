"""Tiled inference: run a fully convolutional net over an image of any size in overlapping
tiles, blending the overlaps with linear ramps, so memory depends on the tile size only."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _ramp(n: int, overlap: int, start: bool, end: bool) -> torch.Tensor:
    """1-D blend weights: ramps up over `overlap` px at inner edges, flat at image borders."""
    w = torch.ones(n)
    k = min(overlap, n // 2)
    if k > 0:
        r = (torch.arange(k, dtype=torch.float32) + 0.5) / k
        if not start:
            w[:k] = r
        if not end:
            w[n - k:] = r.flip(0)
    return w


def _starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    s = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(s))


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


@torch.no_grad()
def tiled(fn: Callable[..., torch.Tensor], x: torch.Tensor, *extra: torch.Tensor, tile: int = 256,
          overlap: int = 32, scale: int = 1, multiple: int = 1, out_channels: int | None = None) -> torch.Tensor:
    """fn(x_tile, *extra_tiles) -> output tile `scale` times larger. x: (1, C, H, W); `extra`
    tensors (e.g. a mask) are cut at the same places. Tiles are padded to `multiple`."""
    _, _, h, w = x.shape
    tile = max(multiple, tile // multiple * multiple)
    step = max(1, tile - overlap)
    out = None
    weight = torch.zeros(1, 1, h * scale, w * scale)
    ys, xs = _starts(h, tile, step), _starts(w, tile, step)
    for y in ys:
        for x0 in xs:
            th, tw = min(tile, h - y), min(tile, w - x0)
            pieces = [t[..., y:y + th, x0:x0 + tw] for t in (x, *extra)]
            padded = [_pad_to(p, multiple)[0] for p in pieces]
            res = fn(*padded)[..., :th * scale, :tw * scale].float().cpu()
            if out is None:
                out = torch.zeros(1, out_channels or res.shape[1], h * scale, w * scale)
            wy = _ramp(th * scale, overlap * scale, y == 0, y + th >= h)
            wx = _ramp(tw * scale, overlap * scale, x0 == 0, x0 + tw >= w)
            wt = (wy[:, None] * wx[None, :])[None, None]
            out[..., y * scale:(y + th) * scale, x0 * scale:(x0 + tw) * scale] += res * wt
            weight[..., y * scale:(y + th) * scale, x0 * scale:(x0 + tw) * scale] += wt
    return out / weight
