"""Detectors for conditional generators: collapse inside one class, a class left uncovered,
images that do not show their asked class, and the saved (EMA) generator drawing a class
without variety. They read the probes of monitor/probes.py; mode_collapse (detectors.py) hands
over to `class_collapse` when the batch-wide signals are healthy.
"""
from __future__ import annotations

import numpy as np

from .finding import SUSTAIN, Finding, _fmt, _onset

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
        if "div_worst_caption" in now:
            return _caption_collapse(records, now)
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
    if "div_worst_caption" in now:
        return _caption_collapse(records, now, recall=(rec[-1], floor, precision, low_div or stuck(SUSTAIN)),
                                 onset=probes[-3]["step"])
    return Finding("mode_collapse", "problem" if low_div or stuck(SUSTAIN) else "warning", now["step"],
                   probes[-3]["step"],
                   {"recall": _fmt(rec[-1]), "recall_floor": _fmt(floor), "precision": _fmt(precision),
                    "within_class_diversity": _fmt(now.get("div_class_min")),
                    "note": "k-NN recall of held-aside real images by generated ones (pooled pixels)"},
                   "samples look like the data but cover little of it (partial mode collapse): let D learn "
                   "faster than G (e.g. --lr-g 1e-4 --lr-d 4e-4), add --r1-gamma 0.1, or train longer with "
                   "--lr-decay")


CAPTION_ADVICE = ("set diversity_weight higher in a --config file (e.g. diversity_weight: 0.05; the default is 0.01, "
                  "0 turns it off), or use --on-problem fix, which raises it")


def _caption_collapse(records: list[dict], now: dict, recall=None, onset=None) -> Finding:
    """class_collapse for text-to-image generators: the conditions are captions. With `recall`
    ((recall, floor, precision, problem?)), the partial case read by the recall probe. The advice
    is the measured one: MSGAN's term (families/text2img.py) at 0.01 raised recall from 0.19 to
    0.47 (mnist5k-captions) and from 0.13 to 0.40 (fashion-mnist-captions); 0.05 gave 0.56."""
    caption = now.get("div_worst_caption")
    if recall is None:
        return Finding("mode_collapse", "problem", now["step"], _onset(records, "div_class_min", CLASS_DIV_MIN),
                       {"within_caption_diversity": _fmt(now["div_class_min"]), "caption": caption,
                        "batch_diversity": _fmt(now["div"]),
                        "note": "mean pairwise distance of one caption's fixed-noise images / that caption's real "
                                "images' (the whole data's for a caption of one image)"},
                       "G draws almost the same image for every noise of a caption (it ignores its noise): "
                       + CAPTION_ADVICE)
    rec, floor, precision, problem = recall
    return Finding("mode_collapse", "problem" if problem else "warning", now["step"], onset,
                   {"recall": _fmt(rec), "recall_floor": _fmt(floor), "precision": _fmt(precision),
                    "within_caption_diversity": _fmt(now.get("div_class_min")), "caption": caption,
                    "note": "k-NN recall of held-aside real images by images of their own captions (pooled pixels)"},
                   "samples look like the data but cover little of it (one image per caption): " + CAPTION_ADVICE)


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
    shapes-60 35% vs 29%, chance 25%, FID 145 vs 111); at 0.5 and 1.0 G drew about one image per
    class; D's class terms on position-pooled features, and a D reading each image minus its mean
    colour, did not help (the latter collapsed G), so neither was kept."""
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
    (their ganforge-CNN worst classes 0.33 and 0.56). Early training (every class near 0) is kept
    out by requiring that G already draws its classes: the median class's recall at least
    CLASS_RECALL_REST, or the label probe reading G's images as their class at LABEL_SHARE or more
    of its real rate (a reader at LABEL_READER_MIN x chance or better). With the median-class gate
    alone the warning went away as the collapse spread: textures-100 at 3,000 steps, seed 1, brick
    at 0.00 from step 1,250 and the median class down to 0.07-0.18 from step 2,250, while the
    reader still read every image as its class (0.99-1.00, real 1.00) and evaluate's FID was 353."""
    probes = [r for r in records if isinstance(r.get("probe_class_recall_min"), (int, float))][-CLASS_RECALL_PROBES:]
    if len(probes) < CLASS_RECALL_PROBES:
        return None
    worst = float(np.median([r["probe_class_recall_min"] for r in probes]))
    rest = float(np.median([r.get("probe_class_recall_median", 0) for r in probes]))
    now = probes[-1]
    if (worst >= CLASS_RECALL_MIN or not (rest >= CLASS_RECALL_REST or _draws_its_classes(probes))
            or now.get("probe_class_recall_floor", 0) < 0.5
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


def _draws_its_classes(probes: list[dict]) -> bool:
    """The label probe reads G's images as their asked class at LABEL_SHARE or more of its real
    rate (median over `probes`), by a reader that reads real images at LABEL_READER_MIN x chance."""
    read = [r for r in probes if isinstance(r.get("probe_label_acc"), (int, float))]
    if len(read) < len(probes):
        return False
    real, chance = read[-1].get("probe_label_acc_real", 0), read[-1].get("probe_label_chance", 1)
    share = float(np.median([r["probe_label_acc"] for r in read])) / max(real, 1e-9)
    return real >= LABEL_READER_MIN * chance and share >= LABEL_SHARE


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
