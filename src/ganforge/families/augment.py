"""`--augment off|diffaug|ada` for the families whose D judges images (nets/augment.py holds the
ops and ADA's p). A family calls `add_augment` in its constructor (it adds net "A" to its
nets, so p is checkpointed), `augmented` on every D input, real and fake alike, and `ada_stats`
with D's real logits in its D phase. G's output is never augmented outside D's input.

Default: `ada` for image sets smaller than SMALL_SET examples, off above (benchmarks/stylegan.py
measures the threshold), as D memorises a small set within a few thousand steps.
"""
from __future__ import annotations

import torch

from ..io.errors import GanforgeError
from ..nets import build_net
from ..nets.augment import ADA_INTERVAL, KINDS

SMALL_SET = 2_000  # image sets below this many examples train with --augment ada by default


def default_augment(meta: dict) -> dict:
    """The augment default for this data (a layer of a family's `defaults(meta)`)."""
    count = meta.get("count") or 0
    return {"augment": "ada"} if meta["kind"] == "images" and 0 < count < SMALL_SET else {}


def add_augment(family, cfg, meta: dict, channels: int | None = None) -> None:
    """Add the augment pipeline as net "A" when `cfg.augment` is on; `channels`: the channels
    of one image in D's input (stacked pairs move together)."""
    kind = getattr(cfg, "augment", "off")
    if kind not in KINDS:
        raise GanforgeError(f"--augment {kind} is not valid; choose one of {', '.join(KINDS)}")
    if kind == "off":
        return
    if meta["kind"] != "images":
        raise GanforgeError(f"--augment applies to images, but '{meta['name']}' is {meta['kind']}; drop it")
    family.specs["A"] = {"net": "augment", "kwargs": dict(kind=kind, channels=channels or meta["shape"][0],
                                                         batch_size=cfg.batch_size)}
    family.nets["A"] = build_net(family.specs["A"])


def augmented(family, x: torch.Tensor) -> torch.Tensor:
    aug = family.nets.get("A")
    return aug(x) if aug is not None else x


def ada_stats(family, real_logits: torch.Tensor, ctx: dict) -> dict:
    """ADA bookkeeping in the D phase: count sign(D(real)); every ADA_INTERVAL steps move p.
    Returns 0-d stats for the log (`aug_p`, and `ada_rt` when p moved); no host sync."""
    aug = family.nets.get("A")
    if aug is None:
        return {}
    aug.observe(real_logits)
    stats = {"aug_p": aug.p.detach().clone()}
    if aug.kind == "ada" and (ctx.get("step", 0) + 1) % ADA_INTERVAL == 0 and not ctx.get("ada_done"):
        ctx["ada_done"] = True  # once per step, also with n_critic > 1
        stats["ada_rt"] = aug.adjust()
    return stats


def progress(record: dict) -> list[str]:
    return [f"aug p {record['aug_p']:.2f}"] if "aug_p" in record else []
