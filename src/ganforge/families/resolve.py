"""From what a user typed to a family and its validated Options.

Precedence, lowest first: the family's Options defaults < its defaults for what the data is
(`Family.defaults(meta)`: kind, size, channels, count, labels) < a built-in set's own recipe
where its geometry calls for one (data/registry.py: the 2D mixtures) < a named preset < the
user's options. Defaults a family has no field for are dropped; a user option it
has no field for is refused (RunOptions.from_dict).
"""
from __future__ import annotations

from ..data import registry
from ..io.errors import GanforgeError
from . import FAMILIES, family_class
from .base import Family

DEFAULT_FAMILY = {"points": "vanilla", "images": "dcgan", "series": "timegan", "audio": "specgan"}  # by the kind of data
LABELLED_FAMILY = "cgan"  # labelled images (2+ classes) train conditionally unless --unconditional


def preset_family(preset: str) -> str:
    owners = [n for n, cls in FAMILIES.items() if preset in cls.presets]
    if not owners:
        known = sorted({p for cls in FAMILIES.values() for p in cls.presets})
        raise GanforgeError(f"unknown preset '{preset}'; choose one of {', '.join(known)}")
    return owners[0]


def choose_family(model: str | None, preset: str | None, data: str, kind: str | None,
                  labelled: bool | None = None, unconditional: bool = False) -> type[Family] | None:
    """The family to train: asked for, implied by a preset, the built-in set's, or chosen by
    what the data is: its kind, and for images whether it has labels (None while that is not
    known yet: the data is read first)."""
    if model is None and preset is not None:
        model = preset_family(preset)
    if unconditional and model is not None and getattr(family_class(model), "conditional", False):
        raise GanforgeError(f"--unconditional contradicts --model {model}; drop one of them")
    if model is None:
        model = registry.recipe(data, "").get("model")
    if model is None and kind == "images":
        if labelled is None:
            return None
        model = LABELLED_FAMILY if labelled and not unconditional else DEFAULT_FAMILY["images"]
    if model is None:
        model = DEFAULT_FAMILY.get(kind or "")
    if model is None and kind is None:
        return None
    if model is None:
        raise GanforgeError(f"'{data}' needs --model: one of {', '.join(n for n in FAMILIES if n != 'tabular')}")
    return family_class(model)


def describe(family: type[Family], meta: dict, chosen: bool) -> str:
    """The first line of a training run's output: what the data is and what trains on it
    (with why, when ganforge chose the family)."""
    shape, count, classes = meta["shape"], meta.get("count"), meta.get("class_names") or []
    info = meta.get("info") or {}
    if meta["kind"] == "images":
        c, h, w = shape
        what = f"{count:,} {'grey' if c == 1 else 'RGB' if c == 3 else f'{c}-channel'} {w}x{h} images"
    elif meta["kind"] == "audio":
        rate, spec = info.get("sample_rate"), info.get("spectrogram")
        what = f"{count:,} clips of {info.get('clip_samples', shape[-1]):,} samples at {rate:,} Hz" if rate else \
            f"{count:,} clips"
        what += f" as {spec['size']}x{spec['size']} spectrograms" if spec else ""
    else:
        what = f"{meta['kind']} {tuple(shape)}" + (f", {count:,} examples" if count else "")
    if classes and meta["kind"] in ("images", "audio"):
        what += f" in {len(classes)} classes"
    extra = [info[k] for k in ("range", "resize") if info.get(k)]
    line = f"{family.name} on {meta['name']}: {what}" + (f" ({'; '.join(extra)})" if extra else "")
    if chosen and meta["kind"] == "images":
        line += ("; labelled, so trained conditionally (--unconditional to opt out)"
                 if family.name == LABELLED_FAMILY else "; unlabelled, so unconditional" if not classes
                 else "; --unconditional: the labels are not used")
    return line


def resolve(family: type[Family], options: dict, meta: dict, data: str):
    """The family's validated Options for `options` (None values = not given) on data `meta`."""
    own = set(family.Options.names())
    merged: dict = {}
    if options.get("conditional") is False:  # labels not used: the recipe of unlabelled data
        meta = {**meta, "class_names": []}
    layers = [family.defaults(meta), registry.recipe(data, family.name)]
    preset = options.get("preset")
    if preset is not None:
        if preset not in family.presets:
            raise GanforgeError(f"--preset {preset} is not a preset of --model {family.name}; "
                                f"its presets: {', '.join(family.presets) or 'none'}")
        layers.append(family.presets[preset])
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if k in own})
    merged.update({k: v for k, v in options.items() if v is not None})
    if options.get("eval_every") == 0 and options.get("keep_best") is None:
        merged["keep_best"] = None  # evaluations turned off: a default --keep-best goes with them
    merged["model"] = family.name
    return family.Options.from_dict(merged, family.name).validate(family.losses)
