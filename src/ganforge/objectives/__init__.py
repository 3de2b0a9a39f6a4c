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


def build_family(cfg, data_meta: dict) -> Family:
    from . import gan  # noqa: F401  (registers vanilla, dcgan, cgan)
    if cfg.model not in FAMILIES:
        raise GanforgeError(f"unknown model '{cfg.model}'; choose one of {', '.join(sorted(FAMILIES))}")
    return FAMILIES[cfg.model](cfg, data_meta)


def family_names() -> list[str]:
    from . import gan  # noqa: F401
    return sorted(FAMILIES)


__all__ = ["Family", "Phase", "FAMILIES", "register_family", "build_family", "family_names"]
