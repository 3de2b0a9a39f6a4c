"""`load_dataset`: a built-in name, a folder of images or a .npz file -> a Dataset."""
from __future__ import annotations

from pathlib import Path

import torch

from ..io.errors import GanforgeError
from . import files, registry
from .base import Dataset


def load_dataset(spec: str, image_size: int | None = None) -> Dataset:
    """A built-in name (data/registry.py), a folder of images, or a .npz file. `image_size`
    resizes images (folders: centre crop + Lanczos; built-in and .npz sets: antialiased
    bicubic of the whole image) and is refused for 2D points."""
    entry = registry.builtin(spec)
    if entry is not None and entry.load is not None:
        data = entry.load()
    elif entry is not None and entry.kind == "table":
        raise GanforgeError(f"'{spec}' is a table: fit it with `ganforge tabular fit {spec} --out RUN`")
    elif entry is not None and entry.kind == "series":
        raise GanforgeError(f"'{spec}' is a time series: train it with --model timegan")
    elif entry is not None and entry.kind == "audio":
        raise GanforgeError(f"'{spec}' is audio: train it with --model specgan or wavegan")
    elif entry is not None:
        raise GanforgeError(f"'{spec}' holds photos for image-to-image models; train it with "
                            f"--model pix2pix, cyclegan, colorize, srgan or inpaint")
    else:
        path = Path(spec)
        if path.is_dir():
            if next(path.rglob("*.[wW][aA][vV]"), None) is not None:
                raise GanforgeError(f"folder {path} holds .wav clips: train them with --model specgan or wavegan")
            return files.load_folder(path, image_size)
        if path.suffix.lower() == ".npz":
            if not path.is_file():
                raise GanforgeError(f"file {path} does not exist; check the path")
            data = files.load_npz(path)
        elif path.suffix.lower() in (".csv", ".tsv", ".parquet") and path.exists():
            raise GanforgeError(f"{path} is a table: fit it with `ganforge tabular fit {path} --out RUN` "
                                f"(or ganforge.tabular.TabularGAN in Python); a time series (a time column and "
                                f"features): `ganforge train {path} --model timegan --window 24`")
        elif path.exists():
            raise GanforgeError(f"cannot use {path} as data: pass a folder of images or a .npz file")
        else:
            raise GanforgeError(f"unknown dataset '{spec}': not a built-in name "
                                f"({', '.join(registry.names('points') + registry.names('images'))}) "
                                f"and no such file or folder")
    if image_size is not None:
        if data.kind != "images":
            raise GanforgeError(f"--image-size applies to images, but '{spec}' is {data.kind}; drop it")
        data = resized(data, image_size)
    return data


def resized(data: Dataset, size: int) -> Dataset:
    """The same images at size x size (antialiased bicubic; a square set stays undistorted)."""
    if data.x.shape[-2:] == (size, size):
        return data
    import torch.nn.functional as F
    h, w = data.x.shape[-2:]
    x = torch.cat([F.interpolate(data.x[i:i + 2048], size=(size, size), mode="bicubic", antialias=True,
                                 align_corners=False) for i in range(0, len(data.x), 2048)]).clamp(-1, 1)
    info = {**data.info, "resize": f"{w}x{h} -> {size}x{size} (antialiased bicubic)"}
    return Dataset(data.name, data.kind, x.contiguous(), data.labels, data.class_names, None, info)
