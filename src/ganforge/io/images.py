"""Image files in and out: the one reader of user image files (every entry point decodes them
here, with the same rules and one-line errors), image grids and point scatter plots as PNG
(written atomically)."""
from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .checkpoint import atomic_write
from .errors import GanforgeError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
OUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}
GREY_MODES = ("L", "LA", "1", "I", "I;16", "F")


def open_image(path: Path, what: str = "image", decode: bool = True) -> Image.Image:
    """Decode an image file fully (a truncated file fails here, not mid-training); with
    `decode=False` only its header is read (mode, size), checked the same way."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"{what} {path} does not exist; check the path")
    try:
        im = Image.open(path)
        if decode:
            im.load()
        return im
    except Image.DecompressionBombError as e:  # a header claiming billions of pixels
        claimed = re.findall(r"\((\d+) pixels\)", str(e))
        raise GanforgeError(f"{what} {path} claims {f'{int(claimed[0]):,}' if claimed else 'too many'} "
                            f"pixels, more than the safe limit of "
                            f"{2 * Image.MAX_IMAGE_PIXELS:,}; resize it or remove it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise GanforgeError(f"cannot read {what} {path} ({str(e).splitlines()[0]}); "
                            f"remove it or re-save it as PNG or JPEG") from None


def has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info)


def flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite transparency onto white (a transparent pixel has no colour of its own)."""
    if has_alpha(im):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im


def is_grey(im: Image.Image) -> bool:
    return im.mode in GREY_MODES


def read_image(path: Path, mode: str | None = None, what: str = "image") -> np.ndarray:
    """An image file as uint8 (H, W, C); `mode` "RGB"/"L" converts, None keeps grey as grey."""
    im = flatten_alpha(open_image(path, what))
    if mode is None:
        mode = "L" if is_grey(im) else "RGB"
    arr = np.asarray(im.convert(mode), dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def read_rgb(path, what: str = "image", allow_grey: bool = False) -> np.ndarray:
    """uint8 (H, W, 3) for a model that takes colour. A greyscale file is an error unless
    `allow_grey` (then replicated)."""
    im = open_image(Path(path), what)
    if is_grey(im) and not allow_grey:
        raise GanforgeError(f"{what} {path} is greyscale (mode {im.mode}) but this model takes colour (RGB) "
                            f"images; convert it to RGB, or use a colorize model for greyscale photos")
    return np.asarray(flatten_alpha(im).convert("RGB"), dtype=np.uint8)


def read_mask(path, shape: tuple[int, int]) -> np.ndarray:
    """A mask image (white = fill) of the same size as the image, as bool (H, W)."""
    im = open_image(Path(path), "mask")
    if (im.height, im.width) != tuple(shape):
        raise GanforgeError(f"mask {path} is {im.width}x{im.height} but the image is {shape[1]}x{shape[0]}; "
                            f"make the mask the same size as the image")
    return np.asarray(im.convert("L")) > 127


def write_image(path, arr: np.ndarray) -> None:
    path = Path(path)
    fmt = OUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GanforgeError(f"--out {path.name} must end in {', '.join(OUT_FORMATS)}")
    atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, format=fmt))


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
