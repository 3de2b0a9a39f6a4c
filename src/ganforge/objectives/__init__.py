"""Family registry: `ganforge train --model NAME` looks NAME up here."""
from __future__ import annotations

from ..errors import GanforgeError
from .base import Family, Phase

FAMILIES: dict[str, type[Family]] = {}


def register_family(*names: str):
    def wrap(cls):
        for name in names:
            if name in FAMILIES:
                raise ValueError(f"family '{name}' is already registered")
            FAMILIES[name] = cls
        return cls
    return wrap


def _register_all() -> None:
    from . import gan  # noqa: F401  (registers vanilla, dcgan, cgan)
    from . import colorize, cyclegan, inpaint, lapgan, pix2pix, srgan  # noqa: F401  (image-to-image)


def family_class(name: str | None) -> type[Family] | None:
    """The registered class for `name`, or None (lets api.train ask for family-specific data)."""
    _register_all()
    return FAMILIES.get(name) if name else None


def build_family(cfg, data_meta: dict) -> Family:
    _register_all()
    if cfg.model not in FAMILIES:
        raise GanforgeError(f"unknown model '{cfg.model}'; choose one of {', '.join(sorted(FAMILIES))}")
    return FAMILIES[cfg.model](cfg, data_meta)


def family_names() -> list[str]:
    _register_all()
    return sorted(FAMILIES)


__all__ = ["Family", "Phase", "FAMILIES", "register_family", "build_family", "family_names", "family_class"]
