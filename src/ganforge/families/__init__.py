"""Family registry: `ganforge train --model NAME` looks NAME up here.

Explicit: every family is listed below, so a fresh process knows them all (no import side
effects), and each entry is checked when the registry is built. `register` adds one more
(a plugin, or the template family in a test) under the same checks.
"""
from __future__ import annotations

import dataclasses

from ..io.errors import GanforgeError
from .anomaly import FAnoGAN, GANomaly
from .base import Family, Phase
from .colorize import Colorize
from .cyclegan import CycleGAN
from .gan import CGAN, DCGAN, Vanilla
from .inpaint import Inpaint
from .lapgan import LapGAN
from .options import RunOptions
from .pix2pix import Pix2Pix
from .specgan import SpecGAN
from .srgan import SRGAN
from .stylegan import StyleGAN
from .tabular import TabularFamily
from .text2img import Text2Img
from .timegan import TimeGAN
from .wavegan import WaveGAN

FAMILIES: dict[str, type[Family]] = {}


def register(cls: type[Family]) -> type[Family]:
    """Add a family after checking what the loop and the CLI will rely on."""
    name = getattr(cls, "name", None)
    problems = []
    if not isinstance(name, str) or not name or name == Family.name:
        problems.append("a `name`")
    if not cls.summary:
        problems.append("a one-line `summary`")
    if not (isinstance(cls.Options, type) and issubclass(cls.Options, RunOptions)
            and dataclasses.is_dataclass(cls.Options)):
        problems.append("an `Options` dataclass extending RunOptions")
    if problems:
        raise ValueError(f"family {cls.__name__} needs {', '.join(problems)}")
    if name in FAMILIES and FAMILIES[name] is not cls:
        raise ValueError(f"family '{name}' is already registered")
    FAMILIES[name] = cls
    return cls


for _cls in (Vanilla, DCGAN, CGAN, LapGAN, Pix2Pix, CycleGAN, Colorize, SRGAN, Inpaint, StyleGAN, TabularFamily, TimeGAN,
             GANomaly, FAnoGAN):
    register(_cls)
register(Text2Img)
register(WaveGAN)
register(SpecGAN)


def family_class(name: str) -> type[Family]:
    if name not in FAMILIES:
        raise GanforgeError(f"unknown model '{name}'; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def build_family(cfg, data_meta: dict) -> Family:
    return family_class(cfg.model)(cfg, data_meta)


def family_names() -> list[str]:
    return list(FAMILIES)


__all__ = ["Family", "Phase", "FAMILIES", "RunOptions", "register", "build_family", "family_names",
           "family_class"]
