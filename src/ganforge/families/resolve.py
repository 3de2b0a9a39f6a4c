"""From what a user typed to a family and its validated Options.

Precedence, lowest first: the family's Options defaults < its defaults for this kind of data
(`Family.defaults(meta)`) < the built-in set's measured recipe (data/registry.py) < a named
preset < the user's options. Defaults a family has no field for are dropped; a user option it
has no field for is refused (RunOptions.from_dict).
"""
from __future__ import annotations

from ..data import registry
from ..io.errors import GanforgeError
from . import FAMILIES, family_class
from .base import Family

DEFAULT_FAMILY = {"points": "vanilla", "images": "dcgan"}  # by the kind of data


def preset_family(preset: str) -> str:
    owners = [n for n, cls in FAMILIES.items() if preset in cls.presets]
    if not owners:
        known = sorted({p for cls in FAMILIES.values() for p in cls.presets})
        raise GanforgeError(f"unknown preset '{preset}'; choose one of {', '.join(known)}")
    return owners[0]


def choose_family(model: str | None, preset: str | None, data: str, kind: str | None) -> type[Family] | None:
    """The family to train: asked for, implied by a preset, the built-in set's, or the kind's
    (None while the kind of user data is not known yet)."""
    if model is None and preset is not None:
        model = preset_family(preset)
    if model is None:
        model = registry.recipe(data, "").get("model") or DEFAULT_FAMILY.get(kind or "")
    if model is None and kind is None:
        return None
    if model is None:
        raise GanforgeError(f"'{data}' needs --model: one of {', '.join(n for n in FAMILIES if n != 'tabular')}")
    return family_class(model)


def resolve(family: type[Family], options: dict, meta: dict, data: str):
    """The family's validated Options for `options` (None values = not given) on data `meta`."""
    own = set(family.Options.names())
    merged: dict = {}
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
    merged["model"] = family.name
    return family.Options.from_dict(merged, family.name).validate(family.losses)
