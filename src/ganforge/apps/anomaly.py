"""Anomaly detection: fit a detector on normal data only, score new data.

    run = ganforge.anomaly.fit("fashion-mnist", "runs/ad", normal_class=0)
    table = ganforge.anomaly.score("runs/ad", "new.npz", out="scores.csv")

Data: images (built-in set, folder, .npz), 2D points (built-in) or a table (CSV, DataFrame,
built-in table; rows encoded by data/table_vectors.py). The normal data is split (seeded) into
training (80%) and two held-out halves of normal items: the first chooses the checkpoint (the
lowest reconstruction error on it, never anything about anomalies) and scales a score made of
standardized parts (a kNN part keeps codes of up to 4,000 training items), the second sets the
threshold at the stated false-positive rate. Both are normal data: no anomaly is seen in fit.
On images, three detectors of different seeds train on that one split by default (`members`);
the saved detector scores by the mean of their standardized scores.
Scores are computed in eval mode, so an item's score does not depend on its batch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts.detector import Detector
from ..data import load_dataset
from ..data.base import Dataset
from ..families import family_class
from ..families.options import split_lr
from ..families.resolve import resolve
from ..io.checkpoint import atomic_write_text
from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from ..runner import fit as run_fit

METHODS = ("fanogan", "ganomaly")
# By benchmarks/results/anomaly.md: on images GANomaly beat f-AnoGAN on both classes measured
# (Fashion-MNIST P1 class 0: 0.916 vs 0.905, class 1: 0.985 vs 0.980, at its earlier 1500 steps,
# ~60% of f-AnoGAN's CPU time; at the current 4000 steps 0.932 and 0.990 (3 seeds), ~110%); on
# the table case f-AnoGAN led (breast-cancer 0.931 vs 0.907). Points follow tables (vectors).
DEFAULT_METHOD = {"images": "ganomaly", "other": "fanogan"}
# GANomaly on images whose normal data spans several classes scores by "recon+latent+knn": the
# kNN distance of the code to training codes models a normal set of several blobs. Tuned on
# mnist5k, nine classes normal (P2), classes 2, 4, 5, 8, 9, seed 0 (anomaly_parts.jsonl), mean
# AUROC: recon+latent 0.826, +knn 0.847; with one normal class (P1) it lowered it (0.909 -> 0.902),
# so one class keeps the family's default.
MULTI_CLASS_SCORE = "recon+latent+knn"
# ... and where those classes are labelled, "+cls": a class head on the code, trained on the
# normal labels (w_cls), adds 1 - its largest probability. Tuned on mnist5k P2, classes 2, 4, 5,
# 8, 9, seed 0 (anomaly_parts.jsonl p2_wcls1 vs p2_default_knn), mean AUROC: recon+latent+knn
# 0.847 without the head, 0.869 with it (the head shapes the code), recon+latent+knn+cls 0.912.
LABELLED_W_CLS = 1.0
# Detectors fitted with different seeds on the same split, their standardized scores averaged
# (--members). Chosen on mnist5k, one class normal (P1), classes 2, 4, 5, 8, 9, seeds 0-2
# (benchmarks/anomaly_members.py -> anomaly_members.jsonl; the reported Fashion-MNIST is not
# looked at): mean AUROC of one detector 0.906, of the three seeds' mean 0.913 (higher on every
# class: +0.002 to +0.015). Measured on images only: tables and points keep one detector.
DEFAULT_MEMBERS = {"images": 3, "other": 1}
MAX_MEMBERS = 16
TABLE_SUFFIXES = (".csv", ".tsv")
MIN_NORMAL = 50
ANOMALY_JSON = "anomaly.json"


# ---- data -----------------------------------------------------------------------------------
def _is_table(data) -> bool:
    import pandas as pd
    if isinstance(data, pd.DataFrame):
        return True
    from ..data.registry import builtin
    entry = builtin(str(data))
    return (entry is not None and entry.kind == "table") or Path(str(data)).suffix.lower() in TABLE_SUFFIXES


def _read_table(data, encoding: dict | None = None) -> tuple[Dataset, list[str]]:
    """A table as encoded vectors (kind "points"); `encoding`: the fitted one (scoring)."""
    from ..data.table_columns import load_table
    from ..data.table_vectors import encode_vectors, fit_vectors
    df, name = load_table(data)
    notes = []
    if encoding is None:
        encoding, notes = fit_vectors(df)
    x = torch.from_numpy(encode_vectors(df, encoding))
    return Dataset(name, "points", x, info={"table": encoding}), notes


def read_data(data, image_size: int | None = None, table: dict | None = None) -> Dataset:
    """Items to fit or score: a Dataset as given, a table, or anything `load_dataset` reads."""
    if isinstance(data, Dataset):
        return data
    if table is not None or _is_table(data):
        if table is None and image_size is not None:
            raise GanforgeError("--image-size applies to images, but the data is a table; drop it")
        return _read_table(data, table)[0]
    return load_dataset(str(data), image_size)


def select_classes(data: Dataset, classes) -> Dataset:
    """The items of the given classes (indices or names) of a labelled set."""
    if classes is None:
        return data
    if data.labels is None:
        raise GanforgeError(f"--normal-class needs labelled data, but '{data.name}' has no labels; "
                            f"pass a folder or file of normal items only")
    wanted = []
    for c in ([classes] if isinstance(classes, (int, str)) else list(classes)):
        c = str(c).strip()
        if c in data.class_names:
            wanted.append(data.class_names.index(c))
        elif c.isdigit() and int(c) < data.num_classes:
            wanted.append(int(c))
        else:
            raise GanforgeError(f"--normal-class {c} is not a class of '{data.name}'; its classes: "
                                + ", ".join(f"{i} = {n}" for i, n in enumerate(data.class_names)))
    chosen = torch.tensor(sorted(set(wanted)))
    keep = torch.isin(data.labels, chosen)
    names = [data.class_names[i] for i in chosen.tolist()]
    info = {**data.info, "normal_classes": names}
    if len(chosen) < 2:
        return Dataset(data.name, data.kind, data.x[keep].contiguous(), None, [], None, info)
    # several normal classes keep their labels, renumbered 0..k-1 (a class head may read them)
    labels = torch.searchsorted(chosen, data.labels[keep])
    return Dataset(data.name, data.kind, data.x[keep].contiguous(), labels, names, None, info)


def split_normal(data: Dataset, seed: int, held_out: float = 0.2) -> tuple[Dataset, torch.Tensor, torch.Tensor]:
    """(training set, checkpoint-choice items, threshold items): a seeded split of normal data."""
    n = len(data.x)  # 2D mixtures: their fixed reference draw
    if n < MIN_NORMAL:
        raise GanforgeError(f"{n} normal items are too few to fit and calibrate a detector; "
                            f"pass at least {MIN_NORMAL}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(20, int(round(n * held_out)))
    choose, calib, train = perm[:k // 2], perm[k // 2:k], perm[k:]
    labels = data.labels[train] if data.labels is not None else None
    ds = Dataset(data.name, data.kind, data.x[train].contiguous(), labels, data.class_names if labels is not None
                 else [], None, data.info)
    return ds, data.x[choose], data.x[calib]


# ---- fit ------------------------------------------------------------------------------------
class ChooseOnNormal:
    """Trainer callback: at each log step (once the family allows), the detector's mean
    reconstruction error on held-out normal items; the lowest one is kept."""

    def __init__(self, x: torch.Tensor):
        self.x, self.best = x, None

    def __call__(self, trainer, record: dict) -> None:
        if not trainer.family.selectable(trainer.step):
            return
        det = trainer.generator()  # a copy: the live nets are untouched
        err = det.recon_error(self.x)
        record["val_recon"] = round(err, 6)
        if self.best is None or err < self.best[0]:
            self.best = (err, trainer.step, det)


@dataclass
class AnomalyRun:
    path: Path
    doc: dict  # anomaly.json: method, threshold, false-positive rate, choice, held-out scores

    @property
    def threshold(self) -> float:
        return self.doc["threshold"]

    def detector(self, device: str = "cpu") -> Detector:
        return Detector.load(self.path, device)


def threshold_at(scores: np.ndarray, fpr: float) -> float:
    """The smallest threshold with at most `fpr` of these (normal) scores above it."""
    if not 0 < fpr < 1:
        raise GanforgeError(f"--fpr must be between 0 and 1 (a false-positive rate), got {fpr}")
    return float(np.quantile(np.asarray(scores, np.float64), 1 - fpr, method="higher"))


def fit(data, out: str | Path, method: str | None = None, normal_class=None, fpr: float = 0.05,
        seed: int = 0, image_size: int | None = None, progress: bool = True, callbacks=(),
        members: int | None = None, **options) -> AnomalyRun:
    """Fit a `method` detector on normal `data` into the run folder `out`. `normal_class`: the
    classes of a labelled set that are normal (the rest is left out). `members`: detectors
    trained with different seeds whose standardized scores are averaged (member 0 trains in
    `out`, the others in `out`/members/i). Other options are the family's (steps, batch_size,
    z_dim, ...: `ganforge train --help`). `method` and `members` None: what measured best for
    what the data is (DEFAULT_METHOD, DEFAULT_MEMBERS)."""
    if method is not None and method not in METHODS:
        raise GanforgeError(f"unknown anomaly method '{method}'; choose one of {', '.join(METHODS)}")
    if members is not None and (not isinstance(members, int) or not 1 <= members <= MAX_MEMBERS):
        raise GanforgeError(f"--members must be a whole number from 1 to {MAX_MEMBERS}, got {members}")
    threshold_at(np.zeros(1), fpr)  # checks fpr before any work
    run = RunDir(out)
    if run.path.exists() and any(run.path.iterdir()):
        raise GanforgeError(f"{run.path} already holds files; choose another --out")
    full = select_classes(read_data(data, image_size), normal_class)
    kind = "images" if full.kind == "images" else "other"
    method, members = method or DEFAULT_METHOD[kind], members or DEFAULT_MEMBERS[kind]
    family = family_class(method)
    options = split_lr(options)  # `lr` sets both learning rates
    family.Options.refuse_unknown({k: v for k, v in options.items() if v is not None}, method)
    n_classes = (len(full.info.get("normal_classes") or [])
                 or (int(full.labels.unique().numel()) if full.labels is not None else 1))
    labelled = full.labels is not None and len(full.class_names) >= 2
    if method == "ganomaly" and full.kind == "images" and n_classes > 1 and options.get("anomaly_score") is None:
        options["anomaly_score"] = MULTI_CLASS_SCORE + ("+cls" if labelled and options.get("w_cls") != 0 else "")
    if "cls" in (options.get("anomaly_score") or "") and options.get("w_cls") is None:
        options["w_cls"] = LABELLED_W_CLS
    train, x_choose, x_calib = split_normal(full, seed)
    chosen = [_fit_member(family, train, x_choose, options, seed, i, run.path, callbacks, progress)
              for i in range(members)]
    det = Detector.ensemble([c[2] for c in chosen], x_choose)
    det.save(run.path)  # the chosen detector (or the members' mean) is the run's model
    err, step = chosen[0][0], chosen[0][1]
    each, of_first = ("", "") if members == 1 else ("for each member, ", " for member 0")
    calib = det.scores(x_calib)
    doc = {"method": method, "score": det.info["score"], "higher_is_anomalous": True,
           "threshold": (t := threshold_at(calib, fpr)), "fpr": fpr,
           "threshold_protocol": f"{int((calib > t).sum())} of {len(calib)} held-out normal items "
                                 f"({(calib > t).mean():.1%}) score above it; asked: at most {fpr:.1%}",
           "chosen_step": step, "chosen_by": f"{each}lowest mean reconstruction error on {len(x_choose)} "
                                             f"held-out normal items ({err:.5g}{of_first})",
           "members": [{"seed": _member_seed(seed, i), "chosen_step": c[1], "val_recon": c[0]}
                       for i, c in enumerate(chosen)],
           "normal_items": {"train": len(train.x), "choose": len(x_choose), "threshold": len(calib)},
           "normal_classes": full.info.get("normal_classes"), "image_size": image_size,
           "calibration_scores": sorted(float(s) for s in calib)}
    atomic_write_text(run.path / ANOMALY_JSON, json.dumps(doc, indent=2))
    return AnomalyRun(run.path, doc)


def _member_seed(seed: int, i: int) -> int:
    return seed + 1000 * i  # member 0 trains as a one-detector fit of the same seed


def _fit_member(family, train: Dataset, x_choose: torch.Tensor, options: dict, seed: int, i: int,
                root: Path, callbacks, progress: bool) -> tuple[float, int, Detector]:
    """Train member `i` into `root` (member 0) or `root`/members/i; (error, step, detector) of its
    checkpoint with the lowest reconstruction error on the held-out normal items `x_choose`."""
    out = root if i == 0 else root / "members" / str(i)
    opts = {**options, "seed": _member_seed(seed, i), "data": train.name, "out": str(out)}
    if options.get("batch_size") is None:  # a small normal set: one batch of all of it
        opts["batch_size"] = min(len(train.x), family.defaults(train.meta()).get("batch_size", 64))
    # "": the family's defaults for what the data is; a built-in set's GAN recipe does not apply
    cfg = resolve(family, opts, train.meta(), "")
    chooser = ChooseOnNormal(x_choose)
    trainer = run_fit(family, train, cfg, out, callbacks=[chooser, *callbacks], progress=progress)
    if chooser.best is None:
        raise GanforgeError(f"training stopped at step {trainer.step} before the detector could be "
                            f"chosen; see {out / 'log.jsonl'}")
    err, step, det = chooser.best
    det.standardize_on(x_choose, train.x, seed=seed)  # summed parts: each part's scale, from the same normal items
    return err, step, det


# ---- score ----------------------------------------------------------------------------------
def load_run(run_dir: str | Path) -> AnomalyRun:
    path = Path(run_dir)
    doc_path = path / ANOMALY_JSON
    Detector.load(path)  # checks the run holds a detector (one-line errors)
    if not doc_path.is_file():
        raise GanforgeError(f"{path} has no {ANOMALY_JSON} (fit it with `ganforge anomaly fit`)")
    try:
        doc = json.loads(doc_path.read_text())
        float(doc["threshold"])
    except (ValueError, KeyError, TypeError):
        raise GanforgeError(f"{doc_path} is damaged; fit the detector again") from None
    return AnomalyRun(path, doc)


def score(run_dir: str | Path, data, out: str | Path | None = None, fpr: float | None = None,
          batch_size: int = 256):
    """A DataFrame (item, score, anomalous[, label]) for `data` scored by the run's detector;
    written as CSV to `out` if given. `fpr`: re-choose the threshold at this false-positive rate
    from the held-out normal scores kept at fit time."""
    import pandas as pd
    run = load_run(run_dir)
    det = run.detector()
    threshold = run.threshold if fpr is None else threshold_at(run.doc["calibration_scores"], fpr)
    table = det.data.get("info", {}).get("table")
    if det.data["kind"] == "images" and (table is not None or _is_table(data)):
        raise GanforgeError("this detector was fitted on images; pass images (a folder, .npz or built-in set)")
    if det.data["kind"] == "points" and table is None and _is_table(data):
        raise GanforgeError("this detector was fitted on points, not a table; pass points")
    # images are resized only as at fit time (--image-size, or a folder's own resize to the
    # fitted size); otherwise another size is an error, not a silent resample
    size = run.doc.get("image_size")
    if size is None and det.data["kind"] == "images" and isinstance(data, (str, Path)) and Path(data).is_dir():
        size = det.data["shape"][-1]
    items = read_data(data, size, table)
    if len(items.x) == 0:
        raise GanforgeError("no items to score")
    s = det.scores(items.x, batch_size)
    df = pd.DataFrame({"item": np.arange(len(s)), "score": s, "anomalous": s > threshold})
    if items.labels is not None:
        df["label"] = [items.class_names[i] for i in items.labels.tolist()]
    if out is not None:
        atomic_write_text(Path(out), df.to_csv(index=False))
    df.attrs.update(threshold=threshold, fpr=fpr if fpr is not None else run.doc["fpr"])
    return df
