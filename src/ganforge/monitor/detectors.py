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
from dataclasses import asdict, dataclass, field

import numpy as np

SUSTAIN = 5          # records (x log_every steps) a pattern must last to count as sustained
ABS_LOSS = 100.0     # |loss| above this is an explosion for every built-in loss
MEM_WARN, MEM_PROBLEM = 0.02, 0.2  # memorisation: near-copy share (fresh samples: ~0.01)
D_FAKE_MAX, D_ACC_MIN = 0.1, 0.95  # d_overpowering: D(fake) at most, D accuracy at least
RKL_WARN = 0.17      # mode_imbalance: reverse KL of the probe's 256 samples, for 4 x SUSTAIN logs. grid25
                     # defaults, seeds 0-3, 6, 7: fires on 3, 6, 7 (reverse KL of 2,500 samples at the end
                     # 0.35, 0.18, 0.16) and not on 0, 1, 2 (0.016, 0.011, 0.009; they pass 0.17 early on)
SEVERITY = {"healthy": 0, "warning": 1, "problem": 2}


@dataclass
class Finding:
    finding: str                 # divergence | nan | mode_collapse | d_overpowering | ...
    severity: str                # warning | problem
    step: int                    # step at which it was detected
    onset: int                   # first step of the evidence window
    evidence: dict = field(default_factory=dict)
    advice: str = ""

    def to_record(self) -> dict:
        return asdict(self)


def _vals(records, key):
    return [r[key] for r in records if isinstance(r.get(key), (int, float))]


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


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


CLASS_DIV_MIN = 0.05    # within-class diversity below this = one image per class ...
CLASS_DIV_SHARE = 0.2   # ... while the batch (all classes) is at least 5x as diverse
RECALL_MIN = 0.1        # probe recall below this (its real-vs-real floor >= 0.5) ...
PRECISION_MIN = 0.3     # ... while the samples already look like the data
CLASS_DIV_EMA = 0.3     # ema_class_collapse: median of the EMA G's lowest within-class diversity ...
CLASS_DIV_EMA_SHARE = 0.4  # ... and of its ratio to the live batch's `div`, over 2 x SUSTAIN records
LABEL_SHARE = 0.5       # label_collapse: G's images read as the asked class at under half the real rate ...
LABEL_READER_MIN = 2.0  # ... by a reader that reads real images at least this many times chance ...
LABEL_CLIMB = 0.05      # ... and not climbing by more than this over those probes
CLASS_RECALL_MIN = 0.1  # class_recall_collapse: the lowest class's recall (reader features) below this ...
CLASS_RECALL_REST = 0.3  # ... while the median class's is at least this (medians over CLASS_RECALL_PROBES)
CLASS_RECALL_PROBES = 3


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


def class_collapse(records: list[dict]) -> Finding | None:
    """Collapse that the batch-wide `div` cannot see (monitor/probes.py). A conditional G that
    draws one image per class spans the classes, so its `div` stays ~0.9: a problem when the
    lowest within-class diversity is below CLASS_DIV_MIN and below CLASS_DIV_SHARE of the
    batch's for SUSTAIN records (a G that ignores z on digits: 0.0 vs 0.9; a healthy cGAN
    starts low everywhere, 0.035 vs 0.040 at step 10, and climbs to 0.75-0.86). Partial
    collapse: the probe's recall below RECALL_MIN in 3 probes in a row, not improving, while its
    precision is at least PRECISION_MIN (early samples have recall ~0 too, but precision ~0):
    a warning; a problem when within-class diversity is also below a third of the batch's, or
    after SUSTAIN such probes (RECALL_EVERY x SUSTAIN log steps without recovering).
    Measured on mnist5k cGANs: pixel recall 0.00-0.01 with precision 0.2-0.6 where ganforge's
    CNN read recall 0.16 and a worst class 0.03-0.06; 0.29-0.33 where it read 0.56 (worst 0.38)."""
    last = records[-SUSTAIN:]
    ratio = [r["div_class_min"] / max(r.get("div", 0), 1e-9) for r in last
             if isinstance(r.get("div_class_min"), (int, float)) and isinstance(r.get("div"), (int, float))]
    now = records[-1]
    if len(ratio) == SUSTAIN and all(r["div_class_min"] < CLASS_DIV_MIN for r in last) \
            and max(ratio) < CLASS_DIV_SHARE:
        return Finding("mode_collapse", "problem", now["step"], _onset(records, "div_class_min", CLASS_DIV_MIN),
                       {"within_class_diversity": _fmt(now["div_class_min"]), "class": now.get("div_class_worst"),
                        "batch_diversity": _fmt(now["div"]),
                        "note": "mean pairwise distance of one class's fixed-noise images / that real class's"},
                       "G draws almost the same image for every noise of a class (conditional mode collapse): "
                       "roll back and lower --lr-g (e.g. --lr-g 1e-4 --lr-d 4e-4), use --loss hinge with "
                       "--spectral-norm, or --r1-gamma 0.1")
    found = label_collapse(records)
    if found is not None:
        return found
    probes = [r for r in records if isinstance(r.get("probe_recall"), (int, float))][-SUSTAIN:]
    rec = [r["probe_recall"] for r in probes]

    def stuck(k):  # the last k probes low and not improving
        return len(rec) >= k and max(rec[-k:]) < RECALL_MIN and rec[-1] <= rec[-k] + 0.02
    if not stuck(3):
        return class_recall_collapse(records) or ema_class_collapse(records)
    floor, precision = probes[-1].get("probe_recall_floor", 1.0), probes[-1].get("probe_precision", 0)
    if floor < 0.5 or precision < PRECISION_MIN:
        return class_recall_collapse(records) or ema_class_collapse(records)
    low_div = len(ratio) == SUSTAIN and float(np.median(ratio)) < 1 / 3
    return Finding("mode_collapse", "problem" if low_div or stuck(SUSTAIN) else "warning", now["step"],
                   probes[-3]["step"],
                   {"recall": _fmt(rec[-1]), "recall_floor": _fmt(floor), "precision": _fmt(precision),
                    "within_class_diversity": _fmt(now.get("div_class_min")),
                    "note": "k-NN recall of held-aside real images by generated ones (pooled pixels)"},
                   "samples look like the data but cover little of it (partial mode collapse): let D learn "
                   "faster than G (e.g. --lr-g 1e-4 --lr-d 4e-4), add --r1-gamma 0.1, or train longer with "
                   "--lr-decay")


def label_collapse(records: list[dict]) -> Finding | None:
    """G's images do not show the class they were asked for (monitor/reader.py): in 3 label
    probes in a row the run's label reader reads them as the asked class at under LABEL_SHARE of
    its rate on held-aside real images, not climbing by more than LABEL_CLIMB, while the samples
    already look like the data (pooled-pixel precision >= PRECISION_MIN) and the reader reads
    real images at LABEL_READER_MIN x chance or better: a warning, never a problem, as no remedy
    for `--on-problem fix` is measured. Pixel diversity and recall cannot see this: mnist5k-rgb-64
    cgan defaults drew coloured backgrounds without digits (an independent CNN read 12% of them
    as the asked class, real 86%; lowest class recall 0.01) at within-class diversity 0.8 and
    pixel precision 0.81. A healthy mnist5k cGAN climbs: 0.09, 0.34, 0.37, 0.51, 0.71 at steps
    50-850 (real 0.89), its pixel precision 0.35 / 0.26 at steps 250 / 450. Tried there (seed 0,
    generalisation_tuning.jsonl): --class-guide 0.2 (judge 47% vs 15%, FID 52.8 vs 48.3; held-out
    shapes-60 35% vs 29%, chance 25%, FID 145 vs 111); at 1.0
    G drew one image per class; D's class terms on position-pooled features, and a D reading each
    image minus its mean colour, did not help (the latter collapsed G), so neither was kept."""
    probes = [r for r in records if isinstance(r.get("probe_label_acc"), (int, float))][-3:]
    if len(probes) < 3:
        return None
    real, chance = probes[-1].get("probe_label_acc_real", 0), probes[-1].get("probe_label_chance", 1)
    low = [r["probe_label_acc"] < LABEL_SHARE * real for r in probes]
    climbing = probes[-1]["probe_label_acc"] > probes[0]["probe_label_acc"] + LABEL_CLIMB
    if (real < LABEL_READER_MIN * chance or not all(low) or climbing
            or probes[-1].get("probe_precision", 0) < PRECISION_MIN):
        return None
    return Finding("mode_collapse", "warning", records[-1]["step"], probes[0]["step"],
                   {"label_accuracy": _fmt(probes[-1]["probe_label_acc"]), "real_label_accuracy": _fmt(real),
                    "chance": _fmt(chance), "precision": _fmt(probes[-1]["probe_precision"]),
                    "note": "a small CNN trained on this run's labelled images reads G's images as the asked class"},
                   "G's images look like the data but do not show their class (the label is ignored or the "
                   "class content is not drawn): check `ganforge evaluate RUN` (label accuracy, per-class "
                   "recall), then try --class-guide 0.2 (on colour digits an independent reader's label "
                   "accuracy rose from 15% to 47%, recall fell from 0.69 to 0.49); --image-size 32, a "
                   "narrower and longer net and --ac-weight 1.0 did not help there")


def class_recall_collapse(records: list[dict]) -> Finding | None:
    """One class of the saved generator covers almost none of its real images while the other
    classes are covered: over the last CLASS_RECALL_PROBES probes, the median of the lowest
    per-class recall in the label reader's features (monitor/probes.py) below CLASS_RECALL_MIN,
    not climbing (last <= first + 0.05), the median class's recall at least CLASS_RECALL_REST
    (median over the probes) and the class's real-vs-real recall >= 0.5: a warning. Medians, as
    a class of ~170 probe images swings: textures-100 cgan defaults, seed 1, brick (ganforge's
    CNN recall 0.09 at the end, the saved generator 0.00 here): 0.06, 0.15, 0.00 at steps
    850-1,250 with the median class at 0.66, 0.75, 0.39. Healthy cGANs at defaults, seed 1:
    mnist5k's lowest class 0.15-0.44 from step 450, fashion-kit-36's 0.14-0.54 from step 250
    (their ganforge-CNN worst classes 0.33 and 0.56). The median-class gate keeps early
    training (every class near 0) and whole-set collapse (the pixel probe's case) out."""
    probes = [r for r in records if isinstance(r.get("probe_class_recall_min"), (int, float))][-CLASS_RECALL_PROBES:]
    if len(probes) < CLASS_RECALL_PROBES:
        return None
    worst = float(np.median([r["probe_class_recall_min"] for r in probes]))
    rest = float(np.median([r.get("probe_class_recall_median", 0) for r in probes]))
    now = probes[-1]
    if (worst >= CLASS_RECALL_MIN or rest < CLASS_RECALL_REST or now.get("probe_class_recall_floor", 0) < 0.5
            or now["probe_class_recall_min"] > probes[0]["probe_class_recall_min"] + LABEL_CLIMB):
        return None
    c = now.get("probe_class_recall_worst")
    return Finding("mode_collapse", "warning", records[-1]["step"], probes[0]["step"],
                   {"class": c, "class_recall": _fmt(now["probe_class_recall_min"]),
                    f"median_of_last_{CLASS_RECALL_PROBES}": _fmt(worst),
                    "class_recall_floor": _fmt(now["probe_class_recall_floor"]), "median_class_recall": _fmt(rest),
                    "note": "k-NN recall of one class's held-aside real images by the saved generator's images "
                            "of that class, in the features of a small CNN trained on this run's images"},
                   f"the saved generator draws class {c} from a small part of what that class looks like "
                   f"(partial mode collapse inside one class): look at that class's samples, compare seeds "
                   f"(--seed) and check `ganforge evaluate RUN` (per-class recall); no remedy is measured for this yet")


def ema_class_collapse(records: list[dict]) -> Finding | None:
    """One class of the saved generator (the EMA of G, `div_class_min_ema`) drawn with little
    variety while the live G's batch still varies: over the last 2 x SUSTAIN records, the median
    lowest within-class diversity below CLASS_DIV_EMA and its median ratio to the batch's `div`
    below CLASS_DIV_EMA_SHARE: a warning. Medians, as this 16-image-per-class probe swings by
    ~0.1 between log steps. Measured, cgan defaults: textures-100 seed 1 (class 0 brick, CNN
    recall 0.00): 0.10-0.33 from step 1,000 (batch `div` 0.73-0.85), medians 0.29 / ratio 0.36
    at step 1,150 (fires) down to 0.18 / 0.23, where the live G read 0.15-0.33 and the pixel recall
    probe was gated off by its real-vs-real floor of 0.49; seed 0's saved generator drew class 0
    as one flat grey image (0.073). Healthy mnist5k (seed 0): medians >= 0.59, ratio >= 0.63.
    textures seed 0 with --ema-decay 0.99: fires from step 1,050, class 0 coverage still 0.00 (as
    at 0.999), so the advice does not offer a shorter average as a fix."""
    w = [(r["div_class_min_ema"], r["div"]) for r in records[-2 * SUSTAIN:]
         if isinstance(r.get("div_class_min_ema"), (int, float)) and isinstance(r.get("div"), (int, float))]
    if len(w) < 2 * SUSTAIN:
        return None
    med = float(np.median([e for e, _ in w]))
    share = float(np.median([e / max(d, 1e-9) for e, d in w]))
    if med >= CLASS_DIV_EMA or share >= CLASS_DIV_EMA_SHARE:
        return None
    now = records[-1]
    c = now.get("div_class_worst_ema")
    return Finding("mode_collapse", "warning", now["step"], records[-2 * SUSTAIN]["step"],
                   {"saved_generator_within_class_diversity": _fmt(med), "class": c,
                    "share_of_batch_diversity": _fmt(share), "live_within_class_diversity": _fmt(now.get("div_class_min")),
                    "note": f"medians of the last {2 * SUSTAIN} log steps; mean pairwise distance of one class's "
                            f"fixed-noise images from the EMA of G / that real class's"},
                   f"the saved generator (the EMA of G) draws class {c} with little variety while the live G "
                   f"still varies: look at that class's samples; try a slower G (e.g. --lr-g 1e-4 --lr-d 4e-4) "
                   f"and compare seeds (--seed). A shorter average (--ema-decay 0.99) did not help on textures")


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


def _onset(records, key, threshold, above=False) -> int:
    """First step of the final run of records on the bad side of `threshold`."""
    onset = records[-1]["step"]
    for r in reversed(records):
        v = r.get(key)
        if not isinstance(v, (int, float)) or ((v < threshold) if above else (v > threshold)):
            break
        onset = r["step"]
    return onset


DETECTORS = (nonfinite, divergence, mode_collapse, mode_imbalance, d_overpowering, memorisation, d_too_weak,
             oscillation)


def detect(records: list[dict]) -> list[Finding]:
    """All findings for the latest record of `records`."""
    if not records:
        return []
    return [f for f in (det(records) for det in DETECTORS) if f is not None]


def status(findings: list[Finding]) -> str:
    return max((f.severity for f in findings), key=SEVERITY.get, default="healthy")
