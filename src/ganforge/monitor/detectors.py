"""Health detectors: pure functions over a stream of merged log records (oldest first).

A record is the loop's JSONL dict (d_loss, g_loss, D_real, D_fake, D_acc, gnorm_G, gnorm_D ...)
merged with the monitor's own signals (`div`: diversity of a fixed-noise batch relative to
real data, 1 = as diverse as real; `modes`/`of_modes` for 2D mixtures; `near_copy`: share of
near-copies of training examples) and evaluation values (eval_fid ...). Each detector looks at
the latest state given the history and returns a Finding or None; the monitor decides when a
finding is new. Thresholds are deliberately conservative: "problem" must not fire on healthy
runs (measured in benchmarks/monitor.py); borderline patterns are "warning".
"""
from __future__ import annotations

import math

import numpy as np

from .class_detectors import class_collapse
from .finding import SEVERITY, SUSTAIN, Finding, _fmt, _onset, _vals

ABS_LOSS = 100.0     # |loss| above this is an explosion for every built-in loss
MEM_WARN, MEM_PROBLEM = 0.02, 0.2  # memorisation: near-copy share (fresh samples: ~0.01)
D_FAKE_MAX, D_ACC_MIN = 0.1, 0.95  # d_overpowering: D(fake) at most, D accuracy at least
RKL_WARN = 0.17      # mode_imbalance: reverse KL of the probe's 256 samples, for 4 x SUSTAIN logs. grid25
                     # defaults, seeds 0-3, 6, 7: fires on 3, 6, 7 (reverse KL of 2,500 samples at the end
                     # 0.35, 0.18, 0.16) and not on 0, 1, 2 (0.016, 0.011, 0.009; they pass 0.17 early on)


def nonfinite(records: list[dict]) -> Finding | None:
    """NaN/inf in the latest losses, D outputs or gradient norms: always a problem."""
    r = records[-1]
    bad = [k for k, v in r.items() if isinstance(v, float) and not math.isfinite(v)]
    if not bad:
        return None
    return Finding("nan", "problem", r["step"], r["step"], {k: str(r[k]) for k in bad[:4]},
                   "training produced non-finite numbers: roll back to the last healthy checkpoint "
                   "and halve both learning rates (--on-problem fix does this), or use --loss hinge "
                   "with --spectral-norm")


def divergence(records: list[dict], factor: float = 20.0) -> Finding | None:
    """Loss or gradient-norm explosion. A problem: a loss above ABS_LOSS (GAN losses live near
    0-10), or the last 2 losses far above the run's early median. A warning: the last 2
    gradient norms far above the median of all earlier records while the losses stay in range.
    Healthy Ds sharpen as they learn, and G's gradient with them: pix2pix's PatchGAN went from
    2 to 30-160 by step 2,000 while its L1 kept falling, lapgan's G from 1 to ~1,000 by step
    3,000 with steady losses and full diversity, so a norm alone does not prove divergence;
    a real explosion reaches the losses (or NaN) within a few steps."""
    r = records[-1]
    for key in ("d_loss", "g_loss"):
        v = r.get(key)
        if isinstance(v, float) and math.isfinite(v) and abs(v) > ABS_LOSS:
            return Finding("divergence", "problem", r["step"], r["step"], {key: _fmt(v), "limit": ABS_LOSS},
                           f"{key} exploded to {_fmt(v)}: divide the learning rates (--lr-g/--lr-d) by 10, "
                           f"or add --spectral-norm / --r1-gamma 1")
    if len(records) < 6:
        return None
    early, before, last = records[: max(3, len(records) // 3)], records[:-2], records[-2:]
    for key in ("d_loss", "g_loss", "gnorm_G", "gnorm_D"):
        loss = key.endswith("loss")
        b, now = _vals(early if loss else before, key), _vals(last, key)
        if len(b) < 3 or len(now) < 2:
            continue
        ref = float(np.median(np.abs(b)))
        limit = factor * max(ref, 1.0 if loss else 1e-3)  # a loss of 0.01 -> 0.3 is no explosion
        if min(abs(v) for v in now) <= limit:
            continue
        if loss:
            return Finding("divergence", "problem", records[-1]["step"], last[0]["step"],
                           {key: _fmt(now[-1]), f"{key}_early_median": _fmt(ref), "limit": _fmt(limit)},
                           f"{key} exploded ({_fmt(now[-1])} vs {_fmt(ref)} early): divide the learning "
                           f"rates (--lr-g/--lr-d) by 10, or add --spectral-norm / --r1-gamma 1")
        return Finding("divergence", "warning", records[-1]["step"], last[0]["step"],
                       {key: _fmt(now[-1]), f"{key}_median_before": _fmt(ref), "limit": _fmt(limit),
                        "losses": "in range"},
                       f"{key} jumped to {_fmt(now[-1])} (median so far {_fmt(ref)}) while the losses stay in "
                       f"range: D is sharpening; if samples get worse, add --spectral-norm or --r1-gamma 1, "
                       f"or lower the learning rates")
    return None


def d_overpowering(records: list[dict]) -> Finding | None:
    """D(fake) -> 0 and D accuracy ~100% sustained; a problem when G's gradient also vanishes."""
    w = records[-SUSTAIN:]
    if len(w) < SUSTAIN or not all("D_fake" in r for r in w):
        return None
    fake, acc = _vals(w, "D_fake"), _vals(w, "D_acc")
    # 0.1 / 95%: an R1-regularised D that overpowers G (the benchmark's lr_D = 200 x lr_G) holds
    # D(fake) at 0.01-0.1 with 94-99% accuracy; healthy image runs logged D(fake) >= 0.31.
    if max(fake) > D_FAKE_MAX or (acc and min(acc) < D_ACC_MIN):
        return None
    g = _vals(records, "gnorm_G")
    ev = {"D_fake_max": _fmt(max(fake)), "D_acc_min": _fmt(min(acc)) if acc else "n/a"}
    vanishing = len(g) > SUSTAIN and g[-1] < 0.1 * max(g[:-SUSTAIN] or [g[0]])
    if vanishing:
        ev.update(gnorm_G=_fmt(g[-1]), gnorm_G_peak=_fmt(max(g[:-SUSTAIN])))
    long = len(records) >= 2 * SUSTAIN and all(r.get("D_fake", 1) <= D_FAKE_MAX for r in records[-2 * SUSTAIN:])
    sev = "problem" if vanishing or long else "warning"
    return Finding("d_overpowering", sev, records[-1]["step"], w[0]["step"], ev,
                   "the discriminator wins every round and G gets no useful signal: lower --lr-d "
                   "(e.g. halve it), use --loss ns instead of minimax, add --r1-gamma 1 or "
                   "--spectral-norm, a larger --batch-size, or for small image sets --augment ada")


def d_too_weak(records: list[dict], window: int = 4 * SUSTAIN) -> Finding | None:
    """D cannot tell real from fake for a long time while the samples do not improve."""
    w = records[-window:]
    if len(w) < window or not all("D_real" in r for r in w):
        return None
    gap = [r["D_real"] - r["D_fake"] for r in w]
    acc = _vals(w, "D_acc")
    if max(abs(x) for x in gap) > 0.02 or (acc and max(acc) > 0.55):
        return None
    div = _vals(w, "div")
    if div and max(div) > 0.5:  # samples as diverse as data: this may be a healthy equilibrium
        return None
    return Finding("d_too_weak", "warning", records[-1]["step"], w[0]["step"],
                   {"D_real_minus_D_fake_max": _fmt(max(abs(x) for x in gap)),
                    "D_acc_max": _fmt(max(acc)) if acc else "n/a", "div_max": _fmt(max(div)) if div else "n/a"},
                   "D gives no learning signal: raise --lr-d, use --n-critic 2, or a wider D (--hidden/--channels)")


def oscillation(records: list[dict], window: int = 4 * SUSTAIN) -> Finding | None:
    """Losses swing up and down with large amplitude while the quality metric does not improve."""
    w = records[-window:]
    g = _vals(w, "g_loss")
    if len(w) < window or len(g) < window:
        return None
    d = np.diff(g)
    turns = int((np.sign(d[1:]) != np.sign(d[:-1])).sum())
    amp = float(np.std(g)) / (abs(float(np.mean(g))) + 1e-8)
    if turns < 0.6 * (len(d) - 1) or amp < 0.5:
        return None
    for key, better in (("eval_fid", -1), ("modes", 1), ("div", 1)):
        q = _vals(w, key)
        if len(q) >= 4:
            half = len(q) // 2
            first, second = (min(q[:half]), min(q[half:])) if better < 0 else (max(q[:half]), max(q[half:]))
            if (first - second) * -better < 0.02 * abs(first) + 1e-9:  # second half not better
                return Finding("oscillation", "warning", records[-1]["step"], w[0]["step"],
                               {"g_loss_turns": turns, "g_loss_rel_std": _fmt(amp), key: f"{_fmt(first)} -> {_fmt(second)}"},
                               "losses oscillate without progress: lower both learning rates, use --lr-decay, "
                               "or keep the best generator with --eval-every K --keep-best fid")
            return None
    return None


def mode_collapse(records: list[dict]) -> Finding | None:
    """Diversity of the fixed-noise batch (or the 2D mode count) falling well below its best."""
    m = _vals(records, "modes")
    if len(m) >= 2:
        total = records[-1].get("of_modes") or max(m)
        best, now = max(m), m[-1]
        prev = m[-2]
        if best >= 3 and now <= 0.5 * best and prev <= 0.5 * best:
            return Finding("mode_collapse", "problem", records[-1]["step"], _onset(records, "modes", 0.5 * best),
                           {"modes": f"{now}/{total}", "best_modes": best},
                           "G covers only a few modes: add --pack 2 (PacGAN) or --r1-gamma 0.01, use --loss ns "
                           "instead of minimax, and keep --lr-d at least --lr-g")
        # Never got there: still at most a quarter of the modes after 8 logs (healthy ring8 /
        # grid25 defaults cover most modes within 2 logs; 8 keeps detection within 500 steps).
        if len(m) >= 8 and max(m[-SUSTAIN:]) <= total // 4:
            return Finding("mode_collapse", "problem", records[-1]["step"], records[-SUSTAIN]["step"],
                           {"modes": f"{now}/{total}", "best_modes": best},
                           "G has not reached the data's modes: use --loss ns with --r1-gamma 0.001, "
                           "a smaller --z-dim, or lower learning rates")
    d = _vals(records, "div")
    if len(d) >= SUSTAIN and all(x < 0.05 for x in d[-SUSTAIN:]):  # G maps all noise to ~one point
        return Finding("mode_collapse", "problem", records[-1]["step"], _onset(records, "div", 0.05),
                       {"diversity": _fmt(d[-1]), "best_diversity": _fmt(max(d)),
                        "note": "mean pairwise distance of a fixed-noise batch / real data's"},
                       "G maps all noise to almost one output: roll back and lower the learning rates, "
                       "use --loss ns or hinge, add --r1-gamma 0.01 or --pack 2")
    if len(d) >= 3:
        best = max(d)
        if best >= 0.5 and all(x < 0.3 * best for x in d[-3:]):  # healthy runs swing ~0.1-0.4
            sev = "problem" if d[-1] < 0.2 * best else "warning"
            return Finding("mode_collapse", sev, records[-1]["step"], _onset(records, "div", 0.3 * best),
                           {"diversity": _fmt(d[-1]), "best_diversity": _fmt(best),
                            "note": "mean pairwise distance of a fixed-noise batch / real data's"},
                           "samples lose variety: add --pack 2 or --r1-gamma, lower --lr-g, "
                           "or for images --augment ada or a larger --batch-size")
    return class_collapse(records)


def mode_imbalance(records: list[dict], window: int = 4 * SUSTAIN) -> Finding | None:
    """2D mixtures: most modes reached but the samples spread unevenly over them (reverse KL of
    the fixed-noise batch's mode histogram vs uniform, sustained). A probe of 256 samples can miss
    a rare mode, so a few missing modes still count here; half of them missing is mode_collapse."""
    r = _vals(records, "mode_rkl")
    m = _vals(records, "modes")
    if len(r) < window or not m or m[-1] <= 0.5 * records[-1].get("of_modes", m[-1]):
        return None  # too early, or mode_collapse's case
    late = r[-window:]  # healthy grid25 runs pass 0.2 for a few hundred steps early on
    if min(late) <= RKL_WARN:
        return None
    return Finding("mode_imbalance", "warning", records[-1]["step"], records[-window]["step"],
                   {"reverse_kl": _fmt(late[-1]), "lowest_of_last": _fmt(min(late)),
                    "modes": f"{m[-1]}/{records[-1].get('of_modes', m[-1])}",
                    "note": f"fixed-noise batch's mode histogram vs uniform; above {RKL_WARN} for {window} logs"},
                   "G reaches most modes but over-samples some: train longer (--steps), or try --pack 2; "
                   "compare seeds (--seed) before trusting one run")


def memorisation(records: list[dict]) -> Finding | None:
    """The share of near-copies of training examples (expected ~1% for fresh samples) rising."""
    nc = _vals(records, "near_copy")
    # Fresh samples are near-copies ~1% of the time (the threshold is the real data's 1%
    # leave-one-out quantile): 2% in two checks in a row, above the first check, is a rise.
    if len(nc) < 3 or min(nc[-2:]) < MEM_WARN or min(nc[-2:]) <= nc[0]:
        return None
    sev = "problem" if min(nc[-2:]) >= MEM_PROBLEM else "warning"
    return Finding("memorisation", sev, records[-1]["step"], _onset(records, "near_copy", MEM_WARN, above=True),
                   {"near_copy_share": _fmt(nc[-1]), "first_checked": _fmt(nc[0]), "expected": "0.01"},
                   "G starts copying training examples: stop here (keep this checkpoint), use more data, "
                   "--augment ada (images: D then sees augmented real and fake), or fewer --steps")


DETECTORS = (nonfinite, divergence, mode_collapse, mode_imbalance, d_overpowering, memorisation, d_too_weak,
             oscillation)


def detect(records: list[dict]) -> list[Finding]:
    """All findings for the latest record of `records`."""
    if not records:
        return []
    return [f for f in (det(records) for det in DETECTORS) if f is not None]


def status(findings: list[Finding]) -> str:
    return max((f.severity for f in findings), key=SEVERITY.get, default="healthy")
