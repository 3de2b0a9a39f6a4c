"""`--on-problem fix`: the documented change per finding, applied after rolling back to the last
healthy state. Changes edit the live config (the family reads it every step) and optimiser
learning rates; they are logged, and the saved config of later checkpoints records them.
A change is made only where the family has that knob (its Options declare the field, e.g.
`r1_gamma`); otherwise the next change in the row applies, so no fix logs a change that has no
effect.

| finding        | change                                                            |
|----------------|-------------------------------------------------------------------|
| nan            | halve lr_g and lr_d                                               |
| divergence     | divide lr_g and lr_d by 10 (an explosion means far too high)      |
| d_overpowering | minimax -> ns loss; else n_critic -> 1 and lr_g up to lr_d;       |
|                | else halve lr_d                                                   |
| mode_collapse  | minimax -> ns loss; R1 on real data (gamma 0.01, else doubled);   |
|                | lr_d raised to lr_g if it was lower; images: lr_g halved and lr_d |
|                | doubled while lr_d < 4 lr_g; EMA of G (0.999) if off; text2img:   |
|                | diversity_weight 0 -> 0.01, else doubled (no other change)        |
| memorisation   | none: stop at the last healthy (pre-onset) state                  |
"""
from __future__ import annotations

MAX_ATTEMPTS = 3
R1_START = 0.01  # mode-collapse fix: R1 gamma when R1 was off
DIVERSITY_START = 0.01  # mode-collapse fix (text2img): the mode-seeking weight when it was off
EMA_START = 0.999  # mode-collapse fix: EMA decay of G when there was no EMA
SNAPSHOT_KEYS = ("d_loss", "g_loss", "D_real", "D_fake", "D_acc", "gnorm_G", "gnorm_D", "div", "modes",
                 "near_copy", "eval_fid")


def scale_lr(trainer, phase: str, factor: float, record: bool = True) -> str:
    """Multiply a phase's learning rate; `record` keeps the running product in trainer.lr_scale
    so a later rollback to an older healthy state can re-apply it (fixes accumulate)."""
    if record:
        scale = trainer.__dict__.setdefault("lr_scale", {})
        scale[phase] = scale.get(phase, 1.0) * factor
    opt = trainer.optimizers[phase]
    before = opt.param_groups[0]["lr"]
    for g in opt.param_groups:
        g["lr"] *= factor
    sch = trainer.schedulers.get(phase)
    if sch is not None:  # LambdaLR recomputes lr from base_lrs every step
        sch.base_lrs = [b * factor for b in sch.base_lrs]
    return f"lr_{phase} {before:.3g} -> {opt.param_groups[0]['lr']:.3g}"


def _has(trainer, knob: str) -> bool:
    """Does the family read this option? (Its Options declare it.)"""
    return trainer.cfg.has(knob) if hasattr(trainer.cfg, "has") else hasattr(trainer.cfg, knob)


def _loss_to_ns(trainer) -> str | None:
    if not _has(trainer, "loss") or trainer.cfg.loss != "minimax":
        return None
    trainer.cfg.loss = "ns"
    return "loss minimax -> ns"


def _halve_both(trainer) -> str:
    return "; ".join(scale_lr(trainer, p, 0.5) for p in trainer.optimizers)


def _tenth_both(trainer) -> str:
    # Halving rescued nothing in the benchmark's lr-50x-too-high case (3 halvings = 8x);
    # a tenth per attempt spans 1000x in the 3 attempts.
    return "; ".join(scale_lr(trainer, p, 0.1) for p in trainer.optimizers)


def _catch_up(trainer, slow: str, fast: str) -> str | None:
    """Raise phase `slow`'s lr to phase `fast`'s if it is lower (both phases must exist)."""
    if not {slow, fast} <= set(trainer.optimizers):
        return None
    lr_slow, lr_fast = (trainer.optimizers[k].param_groups[0]["lr"] for k in (slow, fast))
    return scale_lr(trainer, slow, lr_fast / lr_slow) if lr_fast > lr_slow else None


def _d_overpowering(trainer) -> str:
    """minimax -> ns (G's gradient does not saturate); else take away D's head start (n_critic
    -> 1, lr_G up to lr_D); else halve lr_D."""
    if (change := _loss_to_ns(trainer)):
        return change
    phase = "D" if "D" in trainer.optimizers else next(iter(trainer.optimizers))
    parts = []
    cfg = trainer.cfg
    d_phase = next((p for p in trainer.family.phases if p.name == phase), None)
    if _has(trainer, "n_critic") and cfg.n_critic > 1 and d_phase is not None:
        parts.append(f"n_critic {cfg.n_critic} -> 1")
        cfg.n_critic = d_phase.repeats = 1
    # G catches up (lr_G raised to lr_D) rather than D slowing down: lowering lr_D to a
    # too-small lr_G left ring8 learning nothing in the benchmark's strong-D case.
    parts.append(_catch_up(trainer, "G", "D"))
    return "; ".join(p for p in parts if p) or scale_lr(trainer, phase, 0.5)


def _raise_diversity(trainer) -> str:
    """MSGAN's mode-seeking term (text2img): at 0.01 it raised recall from 0.19 to 0.47
    (mnist5k-captions) and 0.13 to 0.40 (fashion-mnist-captions), benchmarks/results/history/text2img_tune-2026-12-05-4.md."""
    before = trainer.cfg.diversity_weight
    trainer.cfg.diversity_weight = DIVERSITY_START if before <= 0 else 2 * before
    return f"diversity_weight {before:g} -> {trainer.cfg.diversity_weight:g}"


def _mode_collapse(trainer) -> str:
    cfg = trainer.cfg
    if _has(trainer, "diversity_weight"):
        return _raise_diversity(trainer)
    if not _has(trainer, "r1_gamma"):
        return _halve_both(trainer)
    before = cfg.r1_gamma
    # 0.01, not 1: on grid25 gamma 1 smoothed D so much that the rescued run kept 3.6% of
    # samples on a mode (21/25 modes); 0.01 is grid25's own default.
    cfg.r1_gamma = R1_START if before <= 0 else 2 * before
    parts = [_loss_to_ns(trainer), f"r1_gamma {before:g} -> {cfg.r1_gamma:g}"]
    # A G that learns faster than its D chases D's latest favourite region (mode hopping):
    # raise lr_D to lr_G (the two-timescale rule: D at least as fast as G).
    parts.append(_catch_up(trainer, "D", "G"))
    parts.append(_slow_g(trainer))
    parts.append(_start_ema(trainer))
    return "; ".join(p for p in parts if p)


def _slow_g(trainer) -> str | None:
    """Images: D learns 4x faster than G (two-timescale: halve lr_G, double lr_D). A cGAN whose
    samples covered little of mnist5k (recall 0.16 in ganforge's features) covered far more with
    lr_G 1e-4 / lr_D 4e-4 from the start (recall 0.56, coverage 0.48 -> 0.59). Points keep the
    grid25-measured change above."""
    if getattr(trainer.data, "kind", None) != "images" or not {"G", "D"} <= set(trainer.optimizers):
        return None
    lr_g, lr_d = (trainer.optimizers[k].param_groups[0]["lr"] for k in ("G", "D"))
    if lr_d >= 4 * lr_g:
        return None
    return f"{scale_lr(trainer, 'G', 0.5)}; {scale_lr(trainer, 'D', 2.0)}"


def _start_ema(trainer) -> str | None:
    """Sample from an EMA of G from here on (a no-EMA G hops between modes; its average covers
    more of them: grid25 proxy of the benchmark's fixed collapse run, 17 -> 22 modes)."""
    if trainer.ema is not None or not _has(trainer, "ema_decay") or trainer.cfg.ema_decay != 0:
        return None
    trainer.start_ema(EMA_START)
    return f"EMA of G off -> {EMA_START}"


REMEDIES = {"nan": _halve_both, "divergence": _tenth_both, "d_overpowering": _d_overpowering,
            "mode_collapse": _mode_collapse, "memorisation": lambda trainer: "stop at the last healthy state"}


def apply(trainer, finding: str) -> str:
    """Apply the change for `finding`; return a one-line description of it."""
    return REMEDIES[finding](trainer)


def snapshot(record: dict) -> dict:
    return {k: record[k] for k in SNAPSHOT_KEYS if isinstance(record.get(k), (int, float))}
