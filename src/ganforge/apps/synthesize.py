"""A labelled synthetic training set from a class-conditional run (`ganforge augment`; the
older name `ganforge synthesize` is the same command).

    ganforge train small_set/ --model cgan --out runs/small
    ganforge augment runs/small --per-class 100 --out synth.npz     # or synth/ (class folders)
    ganforge augment runs/table --per-class 500 --label income --out synth.csv   # a tabular run

Class-balanced: `per_class` images of every class, labelled with the class G was asked for; a
tabular run gives `per_class` rows of every category of its `label` column (conditional
sampling, as `ganforge tabular sample --condition label=VALUE`).
`min_confidence` keeps only images that a classifier fitted on the run's own real data (never a
shipped network, which may have seen far more labelled data than the run) gives at least that
probability of the asked class; the acceptance rate per class is reported, since a filter that
rejects most samples says the generator does not obey its labels.

Whether the synthetic set helps a classifier is measured, not assumed: benchmarks/augment.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..artifacts.noise import Generator
from ..artifacts.saved import read_info
from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError
from ..io.images import save_png, to_uint8
from ..io.outputs import write_folder

MAX_ROUNDS = 20
MAX_FIT = 10_000  # real images the confidence filter is fitted on


def _accept(gen: Generator, run_dir: Path, min_confidence: float, log):
    """x, labels -> keep mask: a logistic regression on the pixels of the run's own real data
    (at most MAX_FIT images). A CNN trained on the same data (user-cnn) rejected every generated
    '1' of a digits cgan that a logistic regression read right 99% of the time: it judged the
    generator's texture, not the digit."""
    from sklearn.linear_model import LogisticRegression

    from ..data import load_dataset
    from ..io.rundir import RunDir
    cfg = RunDir(run_dir).read_config()["config"]
    data = load_dataset(cfg["data"], cfg.get("image_size"))
    if list(data.class_names) != list(gen.class_names) or data.labels is None:
        raise GanforgeError(f"the run's data '{cfg['data']}' no longer has the classes the run was trained on; "
                            f"drop --min-confidence")
    idx = torch.randperm(len(data.x), generator=torch.Generator().manual_seed(0))[:MAX_FIT]
    if log:
        log(f"fitting the confidence filter (logistic regression) on {len(idx)} of the run's real images")
    clf = LogisticRegression(max_iter=1000).fit(data.x[idx].flatten(1).numpy(), data.labels[idx].numpy())

    def keep(x: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        probs = clf.predict_proba(x.flatten(1).numpy())
        return probs[np.arange(len(labels)), labels.numpy()] >= min_confidence
    return keep


def synthesize(run_dir: str | Path, per_class: int, seed: int = 0, min_confidence: float | None = None,
               log=None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(images in model space, labels, report) from the conditional run in `run_dir`."""
    run_dir = Path(run_dir)
    gen = Generator.load(run_dir)
    if gen.num_classes < 2:
        raise GanforgeError(f"{run_dir} holds an unconditional model; a labelled set needs a class-conditional "
                            f"run (train labelled images with --model cgan)")
    if gen.data["kind"] != "images":
        raise GanforgeError(f"{run_dir} generates {gen.data['kind']}; augment writes labelled images (a cgan run) "
                            f"or table rows (a `ganforge tabular fit` run with --label COLUMN)")
    if per_class < 1:
        raise GanforgeError(f"--per-class must be at least 1, got {per_class}")
    if min_confidence is not None and not 0 < min_confidence < 1:
        raise GanforgeError(f"--min-confidence must be between 0 and 1, got {min_confidence}")
    keep = _accept(gen, run_dir, min_confidence, log) if min_confidence is not None else None
    xs, ys, report = [], [], {"per_class": per_class, "classes": gen.class_names, "seed": seed}
    drawn, passed = [], []
    for c in range(gen.num_classes):
        got, n_drawn = [], 0
        for r in range(MAX_ROUNDS if keep else 1):
            need = per_class - sum(len(g) for g in got)
            if need <= 0:
                break
            ask = need if keep is None else max(2 * need, 16)
            x, y = gen.sample_tensor(ask, labels=torch.full((ask,), c), seed=seed * 1000 + c * MAX_ROUNDS + r)
            n_drawn += ask
            got.append(x if keep is None else x[torch.from_numpy(keep(x, y))])
        passed.append(sum(len(g) for g in got))
        x = torch.cat(got)[:per_class]
        if len(x) < per_class:
            raise GanforgeError(f"only {len(x)} of {per_class} samples of class '{gen.class_names[c]}' reached "
                                f"--min-confidence {min_confidence} in {n_drawn} draws; lower it or retrain")
        xs.append(x)
        ys.append(torch.full((per_class,), c, dtype=torch.int64))
        drawn.append(n_drawn)
    if keep is not None:
        report["min_confidence"] = min_confidence
        # the share of drawn samples that passed (draws come in rounds of twice the need, so
        # per_class / drawn would read at most 0.5 however many passed)
        report["acceptance"] = {name: round(p / d, 3) for name, p, d in zip(gen.class_names, passed, drawn)}
        report["classifier"] = "logistic regression on the pixels of the run's own real data"
    return torch.cat(xs), torch.cat(ys), report


def write_set(x: torch.Tensor, labels: torch.Tensor, class_names: list[str], out: str | Path) -> Path:
    """.npz (images uint8 N,H,W,C + labels) or a folder with one sub-folder per class (PNG),
    the layouts `ganforge train` reads back with the same class names."""
    out = Path(out)
    images = to_uint8(x)
    if out.suffix.lower() == ".npz":
        names = np.array(class_names)
        lab = names[labels.numpy()]
        if all(n.lstrip("-").isdigit() for n in class_names):
            lab = lab.astype(np.int64)  # integer labels stay integers (sorted as numbers on reading)

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, images=images, labels=lab)
        atomic_write(out, write)
        return out
    if out.exists() and any(out.iterdir()):
        raise GanforgeError(f"folder {out} is not empty; choose a new --out folder (or a .npz file)")

    def fill(tmp: Path) -> None:  # whole or not at all: written beside, then renamed into place
        for i, (img, y) in enumerate(zip(images, labels.tolist())):
            folder = tmp / class_names[y]
            folder.mkdir(parents=True, exist_ok=True)
            save_png(folder / f"{i:06d}.png", img)
    return write_folder(out, fill)


def synthesize_rows(run_dir: str | Path, per_class: int, label: str | None, seed: int = 0):
    """(DataFrame, report): `per_class` rows of every category of the categorical column `label`
    of the tabular run in `run_dir`, drawn conditioned on that category (TabularGAN.sample)."""
    import pandas as pd

    from ..tabular import TabularGAN
    model = TabularGAN.load(run_dir)
    cols = {c["name"]: c for c in model.transformer.columns}
    layout = [c["column"] for c in model.generator_.info["data"]["info"]["cond"]]
    if label is None or label not in layout:
        known = ", ".join(map(str, layout)) or "none"
        got = "needs --label COLUMN" if label is None else (
            f"cannot use --label '{label}'" + (f" ({cols[label]['kind']})" if label in cols else " (no such column)"))
        raise GanforgeError(f"a table run {got}: the class column, one of its categorical columns: {known}")
    if per_class < 1:
        raise GanforgeError(f"--per-class must be at least 1, got {per_class}")
    cats = cols[label]["categories"]
    parts = [model.sample(per_class, conditions={label: v}, seed=seed * 1000 + k) for k, v in enumerate(cats)]
    report = {"per_class": per_class, "classes": [str(v) for v in cats], "seed": seed, "label": label}
    return pd.concat(parts, ignore_index=True), report


def synthesize_to(run_dir, out, per_class: int, seed: int = 0, min_confidence: float | None = None,
                  log=None, label: str | None = None) -> dict:
    """Write the set: images to a .npz or class folders, a tabular run's rows to a .csv."""
    if read_info(run_dir)["input"] == "table":
        if min_confidence is not None:
            raise GanforgeError("--min-confidence filters images; a table run's rows are drawn conditioned on "
                                "their class: drop --min-confidence")
        if Path(out).suffix.lower() != ".csv":
            raise GanforgeError(f"a table run writes rows: --out must end in .csv, got '{Path(out).name}'")
        df, report = synthesize_rows(run_dir, per_class, label, seed)
        atomic_write(Path(out), lambda tmp: df.to_csv(tmp, index=False))
        return {**report, "out": str(out), "count": len(df)}
    if label is not None:
        raise GanforgeError(f"--label names a table's class column; {run_dir} is an image run: drop --label")
    if Path(out).suffix.lower() == ".csv":
        raise GanforgeError(f"{run_dir} generates images: --out must be a .npz or a new folder, not a .csv")
    x, y, report = synthesize(run_dir, per_class, seed, min_confidence, log)
    path = write_set(x, y, report["classes"], out)
    report["out"] = str(path)
    report["count"] = len(x)
    if path.is_dir():
        (path / "synthesize.json").write_text(json.dumps(report, indent=2))
    return report
