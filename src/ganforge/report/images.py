"""Image grids and point scatter plots as PNG (written atomically)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..train.checkpoint import atomic_write


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Model-space images (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C)."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, upscale_to: int = 0) -> np.ndarray:
    """uint8 (N, H, W, C) -> one (H', W', C) mosaic with `nrow` images per row."""
    n, h, w, c = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, np.uint8)
    for i, im in enumerate(images):
        r, col = divmod(i, nrow)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = im
    if upscale_to and out.shape[1] < upscale_to:  # tiny images (8x8) are unreadable at 1x
        f = max(1, upscale_to // out.shape[1])
        out = out.repeat(f, axis=0).repeat(f, axis=1)
    return out


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path: Path, arr: np.ndarray) -> None:
    data = png_bytes(arr)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(data))


def scatter_png(points: np.ndarray, reference: np.ndarray | None = None, title: str = "") -> bytes:
    """Generated 2D points (blue) over real reference points (grey) as PNG bytes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.6", label="real")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", alpha=0.5, label="generated")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
