"""Anomaly detection: ganforge's detectors beside what users would pick instead (GUIDE §7).

Protocols, never mixed: P1 one class normal, the other nine anomalous; P2 nine classes normal,
the left-out class anomalous. Normal training data = the training split's items of the normal
class(es); test = the whole test split, AUROC of "not normal" by score (higher = anomalous).
Splits: Fashion-MNIST its official 60k/10k; mnist5k a stratified 80/20 split and digits a
stratified 50/50 split (seed 0), as they have no official one.

ganforge methods (`ganforge.anomaly.fit` at the settings in METHODS, seed s): they train on 80%
of the normal items and hold 20% out (half chooses the checkpoint by reconstruction error,
half sets the threshold): anomalies are never seen, and test data never chooses anything.
Baselines (scikit-learn, seed s) get all normal training items as pixel vectors in [0, 1]:
IsolationForest (defaults), one-class SVM (defaults: RBF, gamma "scale", nu 0.5), PCA
reconstruction error (components keeping 90% of the variance), and a plain autoencoder
(MLPRegressor x -> x, hidden 128-32-128, Adam, at most 30 epochs, 10% early-stopping split).

    python benchmarks/anomaly.py --sets mnist5k --classes 0 1 --seeds 0
    python benchmarks/anomaly.py --sets fashion-mnist --methods iforest pca   # baselines only

Appends one JSON line per (set, protocol, class, seed, method) to benchmarks/results/anomaly.jsonl
and a section with the per-class tables to benchmarks/results/anomaly.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stamp import ROOT, stamp, stamp_line  # noqa: E402

import ganforge.anomaly  # noqa: E402
from ganforge.data.base import Dataset  # noqa: E402
from ganforge.data.builtin import load as load_builtin  # noqa: E402

RESULTS = ROOT / "benchmarks/results"
# What a user gets, within this benchmark's CPU budget (see the README of the results).
METHODS = {
    "ganomaly": dict(method="ganomaly"),
    "fanogan": dict(method="fanogan"),
}
BASELINES = ("iforest", "ocsvm", "pca", "autoencoder")
# Published P1 mean AUROC, exactly as GUIDE §7 states them; no others.
PUBLISHED = {"mnist5k": [("Deep SVDD, MNIST (published)", 0.948)],
             "fashion-mnist": [("GEOM, Fashion-MNIST (published)", 0.935)]}


def splits(name: str):
    """(x_train, y_train, x_test, y_test, class names): model-space tensors, int labels."""
    if name == "fashion-mnist":
        tr, te = load_builtin(name, "train"), load_builtin(name, "test")
        return tr.x, tr.labels, te.x, te.labels, tr.class_names
    d = load_builtin(name)
    frac = 0.5 if name == "digits" else 0.2
    i_tr, i_te = train_test_split(np.arange(len(d.x)), test_size=frac, stratify=d.labels.numpy(), random_state=0)
    i_tr, i_te = torch.from_numpy(i_tr), torch.from_numpy(i_te)
    return d.x[i_tr], d.labels[i_tr], d.x[i_te], d.labels[i_te], d.class_names


def baseline_scores(name: str, xtr: np.ndarray, xte: np.ndarray, seed: int) -> np.ndarray:
    if name == "iforest":
        from sklearn.ensemble import IsolationForest
        return -IsolationForest(random_state=seed).fit(xtr).score_samples(xte)
    if name == "ocsvm":
        from sklearn.svm import OneClassSVM
        return -OneClassSVM(gamma="scale").fit(xtr).score_samples(xte)
    if name == "pca":
        from sklearn.decomposition import PCA
        p = PCA(n_components=0.9, random_state=seed).fit(xtr)
        return ((xte - p.inverse_transform(p.transform(xte))) ** 2).sum(1)
    if name == "autoencoder":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
        ae = MLPRegressor(hidden_layer_sizes=(128, 32, 128), max_iter=30, early_stopping=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ae.fit(xtr, xtr)
        return ((xte - ae.predict(xte)) ** 2).sum(1)
    raise ValueError(name)


def gan_scores(name: str, set_name: str, x_normal: torch.Tensor, xte: torch.Tensor, seed: int,
               extra: dict, tmp: Path) -> tuple[np.ndarray, dict]:
    settings = {**METHODS[name], **extra}
    data = Dataset(set_name, "images", x_normal.contiguous())
    run = ganforge.anomaly.fit(data, tmp / f"{name}-{time.time_ns()}", seed=seed, progress=False, **settings)
    det = run.detector()
    return det.scores(xte), {"chosen_step": run.doc["chosen_step"], "settings": settings}


def parse_extra(items: list[str]) -> dict:
    """`--opt fanogan.steps=500` -> {"fanogan": {"steps": 500}}."""
    out: dict = {}
    for it in items:
        key, val = it.split("=", 1)
        method, opt = key.split(".", 1)
        out.setdefault(method, {})[opt] = json.loads(val) if val[:1].isdigit() or val[:1] in "-[{tf" else val
    return out


def run(args) -> list[dict]:
    rows, key = [], stamp()
    extra = parse_extra(args.opt)
    with tempfile.TemporaryDirectory() as tmp:
        for set_name in args.sets:
            xtr, ytr, xte, yte, names = splits(set_name)
            ftr, fte = ((xtr.flatten(1) + 1) / 2).numpy(), ((xte.flatten(1) + 1) / 2).numpy()
            for c in args.classes:
                normal_tr = (ytr == c) if args.protocol == "P1" else (ytr != c)
                anomalous = (yte != c).numpy() if args.protocol == "P1" else (yte == c).numpy()
                for seed in args.seeds:
                    for m in args.methods:
                        t0 = time.time()
                        torch.manual_seed(seed)
                        info: dict = {}
                        if m in BASELINES:
                            s = baseline_scores(m, ftr[normal_tr.numpy()], fte, seed)
                        else:
                            s, info = gan_scores(m, set_name, xtr[normal_tr], xte, seed, extra.get(m, {}), Path(tmp))
                        r = {**key, "set": set_name, "protocol": args.protocol, "class": c, "class_name": names[c],
                             "seed": seed, "method": m, "auroc": round(float(roc_auc_score(anomalous, s)), 4),
                             "wall_s": round(time.time() - t0, 1), "threads": torch.get_num_threads(), **info}
                        rows.append(r)
                        print(f"{set_name} {args.protocol} class {c} seed {seed} {m}: AUROC {r['auroc']:.4f} "
                              f"({r['wall_s']:.0f} s)", flush=True)
                        with open(RESULTS / ("anomaly_tuning.jsonl" if args.no_md else "anomaly.jsonl"), "a") as f:
                            f.write(json.dumps(r) + "\n")
    return rows


def markdown(rows: list[dict], args, key: dict) -> str:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out = [f"## {args.protocol}: {', '.join(args.sets)}, classes {args.classes}, seeds {args.seeds}",
           "", stamp_line(key), f"`python benchmarks/anomaly.py {' '.join(sys.argv[1:])}`", ""]
    for set_name in args.sets:
        sub = [r for r in rows if r["set"] == set_name]
        out += [f"### {set_name} (AUROC, mean over seeds; wall s per fit in the last row)", "",
                "| class | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        means = {m: [] for m in methods}
        for c in args.classes:
            cells = []
            for m in methods:
                v = [r["auroc"] for r in sub if r["class"] == c and r["method"] == m]
                means[m].append(np.mean(v))
                cells.append(f"{np.mean(v):.3f}" + (f" ± {np.std(v):.3f}" if len(v) > 1 else ""))
            name = next(r["class_name"] for r in sub if r["class"] == c)
            out.append(f"| {c} {name} | " + " | ".join(cells) + " |")
        best = max(methods, key=lambda m: np.mean(means[m]))
        out.append("| **mean** | " + " | ".join(("**%.3f**" if m == best else "%.3f") % np.mean(means[m])
                                                 for m in methods) + " |")
        out.append("| wall s | " + " | ".join(f"{np.mean([r['wall_s'] for r in sub if r['method'] == m]):.0f}"
                                             for m in methods) + " |")
        if args.protocol == "P1":
            for label, v in PUBLISHED.get(set_name, []):
                out.append(f"\n{label}: {v:.3f} mean AUROC over all ten classes (other nets, other budgets).")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["digits", "mnist5k", "fashion-mnist"],
                    choices=["digits", "mnist5k", "fashion-mnist"])
    ap.add_argument("--protocol", default="P1", choices=["P1", "P2"])
    ap.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--methods", nargs="+", default=[*METHODS, *BASELINES], choices=[*METHODS, *BASELINES])
    ap.add_argument("--opt", nargs="*", default=[], help="method.option=value overrides (tuning runs)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-md", action="store_true", help="tuning runs: JSON lines to anomaly_tuning.jsonl, no table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for m in METHODS.values():
        m.setdefault("threads", args.threads)
    key = stamp()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = run(args)
    md = markdown(rows, args, key)
    print("\n" + md)
    if not args.no_md:
        with open(RESULTS / "anomaly.md", "a") as f:
            f.write(md + "\n")


if __name__ == "__main__":
    main()
