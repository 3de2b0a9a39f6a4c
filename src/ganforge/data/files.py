"""User data: a folder of images (sub-folders = classes) or a .npz with `images` [and `labels`].

Resize policy (stated in the run's data info): every image is centre-cropped to a square and
resized with Lanczos to `image_size` (default: the median short side, rounded down to a
multiple of 4 and capped at 64). Alpha is composited onto white. If every image is greyscale
the set stays 1-channel, otherwise all become RGB.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..io.errors import GanforgeError
from ..io.images import IMAGE_SUFFIXES, flatten_alpha, has_alpha, is_grey, open_image
from .base import Dataset


def _square(im: Image.Image, size: int) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return im.crop((left, top, left + s, top + s)).resize((size, size), Image.LANCZOS)


def image_files(root: Path) -> list[Path]:
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise GanforgeError(f"folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                            f"point DATA at a folder with images in it")
    return paths


def load_folder(root: Path, image_size: int | None = None) -> Dataset:
    paths = image_files(root)
    x, info = read_images(paths, image_size)
    # Sub-folder names are class labels when every image sits inside a sub-folder.
    rel = [p.relative_to(root).parts for p in paths]
    labels, classes = None, []
    if all(len(r) > 1 for r in rel):
        classes = sorted({r[0] for r in rel})
        if len(classes) > 1:
            index = {c: i for i, c in enumerate(classes)}
            labels = torch.tensor([index[r[0]] for r in rel], dtype=torch.int64)
        else:
            classes = []
    return Dataset(root.name or str(root), "images", x, labels, classes,
                   info={"source": f"folder {root}", "count": len(paths), **info})


def read_images(paths: list[Path], image_size: int | None = None) -> tuple[torch.Tensor, dict]:
    """Image files -> (N, C, S, S) in [-1, 1] by the resize policy above, and its description."""
    heads = []  # headers first (mode, size), so one decoded image at a time is ever in memory
    for p in paths:
        with open_image(p, decode=False) as im:
            heads.append((is_grey(im) and not has_alpha(im), min(im.size)))
    grey = all(g for g, _ in heads)
    mode = "L" if grey else "RGB"
    if image_size is None:
        short = int(np.median([s for _, s in heads]))
        image_size = max(8, min(64, short // 4 * 4))
    arr = np.empty((len(paths), image_size, image_size, 1 if grey else 3), np.uint8)
    for i, p in enumerate(paths):
        with open_image(p) as im:
            a = np.asarray(_square(flatten_alpha(im).convert(mode), image_size), dtype=np.uint8)
        arr[i] = a[..., None] if grey else a
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()
    return x, {"resize": f"centre-crop to square, Lanczos to {image_size}x{image_size}",
               "channels": "greyscale" if grey else "RGB (alpha composited on white)"}


def load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            if "images" not in f:
                raise GanforgeError(f"{path} has no 'images' array (found: {', '.join(f.files) or 'none'}); "
                                    f"save it with np.savez(path, images=..., labels=...)")
            images = f["images"]
            labels = f["labels"] if "labels" in f else None
    except GanforgeError:
        raise
    except Exception as e:  # noqa: BLE001 - corrupt archives raise many types
        raise GanforgeError(f"cannot read {path} ({str(e).splitlines()[0]}); is it a valid .npz?") from None
    if images.dtype.kind not in "biuf":  # text, complex, dates, raw bytes: no pixel reading
        raise GanforgeError(f"{path}: 'images' must hold numbers (uint8 0..255 or floats), got dtype {images.dtype}")
    if labels is not None and labels.ndim != 1:
        raise GanforgeError(f"{path}: 'labels' must be one label per image (shape (N,)), got shape {labels.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.size == 0:
        raise GanforgeError(f"{path}: 'images' must be (N, H, W[, 1|3]) with N, H, W > 0, got {images.shape}")
    lo, hi, scale = value_range(images, path)
    x = torch.from_numpy(images.astype(np.float32))
    x = ((x - lo) / ((hi - lo) / 2.0) - 1.0).permute(0, 3, 1, 2).contiguous()
    classes, y = [], None
    if labels is not None:
        if len(labels) != len(images):
            raise GanforgeError(f"{path}: {len(labels)} labels for {len(images)} images; they must match")
        uniq = np.unique(labels)
        classes = [str(u) for u in uniq]
        y = torch.from_numpy(np.searchsorted(uniq, labels).astype(np.int64))
    return Dataset(path.stem, "images", x, y, classes, info={"source": f"npz {path}", "range": scale})


def value_range(images: np.ndarray, path) -> tuple[float, float, str]:
    """(low, high, description) of the pixel scale: uint8 or integers 0..255, floats in [0, 1],
    [-1, 1] or 0..255. Anything else has no safe reading (a [-1, 1] set must not be read as
    [0, 1]), so it is an error that names the fix."""
    if images.dtype == np.bool_:
        return 0.0, 1.0, "bool {0, 1}"
    lo, hi = float(images.min()), float(images.max())
    fix = ("save the images as uint8 0..255, or as floats in [0, 1] or [-1, 1] "
           "(e.g. (x - x.min()) / (x.max() - x.min()))")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise GanforgeError(f"{path}: 'images' holds NaN or infinite values; {fix}")
    if np.issubdtype(images.dtype, np.integer):
        if lo >= 0 and hi <= 255:
            return 0.0, 255.0, f"{images.dtype} 0..255"
        raise GanforgeError(f"{path}: integer images span {lo:g}..{hi:g}, not 0..255; {fix}")
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0, "float [0, 1]"
    if lo >= -1 and hi <= 1:
        return -1.0, 1.0, "float [-1, 1]"
    if lo >= 0 and 1 < hi <= 255:
        return 0.0, 255.0, "float 0..255"
    raise GanforgeError(f"{path}: float images span [{lo:.3g}, {hi:.3g}], which is none of [0, 1], [-1, 1] "
                        f"or 0..255; {fix}")
