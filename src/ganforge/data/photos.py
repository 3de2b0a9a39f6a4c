"""Image-to-image data: whole photos kept at full size, batches of random crops drawn from them.

Sources: a folder of images (`srgan`, `inpaint`, `colorize`), a folder with `A/` and `B/`
sub-folders (`pix2pix`: same-named pairs; `cyclegan`: unpaired), or the offline demo sets
`photos` (scikit-image + scikit-learn photos) and `photos-pairs` (the same photos as domain A
and a known colour transform of them as domain B, so translation error can be measured).

A batch is (x, None) with x = (N, C, crop, crop) in [-1, 1]; for two domains the A and B crops
are stacked on the channel axis (A first), as the loop passes one tensor per batch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..io.errors import GanforgeError
from ..io.images import IMAGE_SUFFIXES, read_image
from .base import Dataset
from .registry import names as builtin_names

# Colour photos that ship with scikit-image / scikit-learn; the held-out ones are never trained on.
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
                "retina", "sk:china.jpg")
HELDOUT_PHOTOS = ("chelsea", "sk:flower.jpg")


def builtin_photo(name: str) -> np.ndarray:
    """One offline photo as uint8 (H, W, 3)."""
    if name.startswith("sk:"):
        from sklearn.datasets import load_sample_image
        return np.asarray(load_sample_image(name[3:]), dtype=np.uint8)
    import skimage.data
    return np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)[..., :3]


def known_transform(rgb: np.ndarray) -> np.ndarray:
    """The demo's domain change A -> B: rotate colour channels (R,G,B -> B,R,G) and lower the
    contrast. Invertible, so a translator's error against the true B is measurable."""
    x = rgb.astype(np.float32) / 255.0
    y = x[..., [2, 0, 1]] * 0.8 + 0.1
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1).contiguous()  # uint8 CHW


class CropSampler:
    """Draws random crops (+ horizontal flips) from full-size images; all randomness comes from
    the torch.Generator the loop checkpoints, so resuming is exact."""

    def __init__(self, a: list[torch.Tensor], b: list[torch.Tensor] | None, crop: int, paired: bool):
        self.a, self.b, self.crop, self.paired = a, b, crop, paired

    def _crop(self, images, n, gen, idx=None, pos=None):
        c = self.crop
        idx = torch.randint(len(images), (n,), generator=gen) if idx is None else idx
        if pos is None:
            pos = [(int(torch.randint(images[i].shape[1] - c + 1, (1,), generator=gen)),
                    int(torch.randint(images[i].shape[2] - c + 1, (1,), generator=gen))) for i in idx.tolist()]
        out = torch.stack([images[i][:, y:y + c, x:x + c] for i, (y, x) in zip(idx.tolist(), pos)])
        return out, idx, pos

    def __call__(self, n: int, gen: torch.Generator):
        a, idx, pos = self._crop(self.a, n, gen)
        flip = torch.rand(n, generator=gen) < 0.5
        if self.b is not None:
            b = self._crop(self.b, n, gen, idx, pos)[0] if self.paired else self._crop(self.b, n, gen)[0]
            a = torch.cat([a, b], dim=1)
        a[flip] = a[flip].flip(-1)
        return a.float().div(127.5).sub(1.0), None


def _check_size(arrs, crop, where):
    small = [(name, a.shape) for name, a in arrs if min(a.shape[:2]) < crop]
    if small:
        name, shape = small[0]
        raise GanforgeError(f"image {name} in {where} is {shape[1]}x{shape[0]}, smaller than the "
                            f"{crop}px training crop; lower --image-size or remove it")


def load_photos(spec: str, crop: int, domains: str) -> Dataset:
    """`domains`: "one" (a folder of images), "paired" or "unpaired" (A/ and B/ sub-folders)."""
    path = Path(spec)
    source = spec
    if spec in builtin_names("image-crops"):
        a = [(n, builtin_photo(n)) for n in TRAIN_PHOTOS]
        b = [(n, known_transform(x)) for n, x in a] if spec == "photos-pairs" else None
        source = f"offline photos {', '.join(TRAIN_PHOTOS)}" + (" (B = known colour transform)" if b else "")
        if domains != "one" and b is None:
            raise GanforgeError("this model needs two domains; use data 'photos-pairs' or a folder with A/ and B/")
    elif not path.is_dir():
        raise GanforgeError(f"data '{spec}' is not a folder; pass a folder of images "
                            f"(or A/ and B/ sub-folders for pix2pix/cyclegan) or one of {', '.join(builtin_names('image-crops'))}")
    elif domains == "one":
        files = _image_files(path)
        if not files:
            raise GanforgeError(f"folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                                f"point DATA at a folder of photos")
        a, b = [(p.name, read_image(p, "RGB")) for p in files], None
    else:
        if not (path / "A").is_dir() or not (path / "B").is_dir():
            raise GanforgeError(f"folder {path} needs sub-folders A/ and B/ (inputs and targets); create them")
        fa, fb = _image_files(path / "A"), _image_files(path / "B")
        if not fa or not fb:
            raise GanforgeError(f"{path}/A and {path}/B must both hold images")
        if domains == "paired":
            names_b = {p.name for p in fb}
            missing = [p.name for p in fa if p.name not in names_b] + \
                      [p.name for p in fb if p.name not in {q.name for q in fa}]
            if missing:
                raise GanforgeError(f"missing pair: {missing[0]} is in only one of {path}/A and {path}/B; "
                                    f"pix2pix needs same-named pairs (use --model cyclegan for unpaired data)")
            fb = [path / "B" / p.name for p in fa]
        a = [(p.name, read_image(p, "RGB")) for p in fa]
        b = [(p.name, read_image(p, "RGB")) for p in fb]
        if domains == "paired":
            for (n, x), (_, y) in zip(a, b):
                if x.shape != y.shape:
                    raise GanforgeError(f"pair {n} has different sizes in A ({x.shape[1]}x{x.shape[0]}) and "
                                        f"B ({y.shape[1]}x{y.shape[0]}); pairs must be aligned and the same size")
    _check_size(a, crop, spec)
    _check_size(b or [], crop, spec)
    ta = [_to_tensor(x) for _, x in a]
    tb = [_to_tensor(x) for _, x in b] if b is not None else None
    sampler = CropSampler(ta, tb, crop, paired=domains != "unpaired")
    ref = sampler(min(64, 8 * len(ta)), torch.Generator().manual_seed(0))[0]  # fixed preview crops
    return Dataset(path.name if path.is_dir() else spec, "image-crops", ref, sampler=sampler,
                   info={"source": source, "count": len(ta), "crop": crop, "domains": domains,
                         "channels_a": 3, "channels_b": 3 if tb is not None else 0})
