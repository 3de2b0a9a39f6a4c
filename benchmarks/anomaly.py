"""Anomaly detection: ganforge's detectors beside what users would pick instead (GUIDE §7).

Protocols, never mixed: P1 one class normal, the other nine anomalous; P2 nine classes normal,
the left-out class anomalous. Normal training data = the training split's items of the normal
class(es); test = the whole test split, AUROC of "not normal" by score (higher = anomalous).
Splits: Fashion-MNIST its official 60k/10k; mnist5k a stratified 80/20 split and digits a
stratified 50/50 split (seed 0), as they have no official one. The table case: scikit-learn's
breast-cancer table (569 rows x 30 measurements), a stratified 50/50 split, benign rows normal
(P1 class 1), malignant anomalous; ganforge fits the DataFrame (its own row encoding) and the
baselines see the rows in that same encoding.

ganforge methods (`ganforge.anomaly.fit` at the settings in METHODS, seed s): they train on 80%
of the normal items and hold 20% out (half chooses the checkpoint by reconstruction error,
half sets the threshold): anomalies are never seen, and test data never chooses anything.
Baselines (scikit-learn, seed s) get the normal training items as pixel vectors in [0, 1]:
IsolationForest (defaults), one-class SVM (defaults: RBF, gamma "scale", nu 0.5), PCA
reconstruction error (components keeping 90% of the variance), and a plain autoencoder
(MLPRegressor x -> x, one hidden layer of 64, Adam, at most 200 epochs, 10% early-stopping
split; on mnist5k classes 0 and 2 it beat 128-32-128 and 256-64-256: 0.92/0.88 vs 0.81/0.42
and 0.85/0.84, the tuning the ganforge methods also had). The one-class SVM and the autoencoder
fit on at most FIT_CAP (6,000, one Fashion-MNIST class) normal items, a seeded random subset:
under P2 (54,000 normal items) the kernel SVM's cost grows with the square of the items (38 s
CPU at 6,000 here); IsolationForest and PCA always get every item. Where the normal items span
several labelled classes (P2), ganforge's default reads their labels (a class head on the code),
so a labelled baseline stands beside it: "classifier", logistic regression on the pixels of the
normal items with their labels (lbfgs, at most 300 iterations), scored by 1 - its largest class
probability (maximum softmax probability, Hendrycks & Gimpel 2017).

    python benchmarks/anomaly.py --sets mnist5k --classes 0 1 --seeds 0
    python benchmarks/anomaly.py --sets fashion-mnist --methods iforest pca   # baselines only

Appends one JSON line per (set, protocol, class, seed, method), stamped with date, commit and
machine, to benchmarks/results/anomaly.jsonl, and renders benchmarks/results/anomaly.md from
it (the latest row of each), so subsets measured at different times add up to one table.
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
from _record import RESULTS, provenance, write_result  # noqa: E402

import ganforge.anomaly  # noqa: E402
from ganforge.data.base import Dataset  # noqa: E402
from ganforge.data.builtin import load as load_builtin  # noqa: E402

# What a user gets, within this benchmark's CPU budget (see the README of the results).
# "ganomaly-x3" is what `ganforge anomaly fit` does by default (three seeds' detectors, their
# standardized scores averaged); "ganomaly" and "fanogan" are one detector each.
METHODS = {
    "ganomaly-x3": dict(method="ganomaly", members=3),
    "ganomaly": dict(method="ganomaly", members=1),
    "fanogan": dict(method="fanogan", members=1),
}
BASELINES = ("iforest", "ocsvm", "pca", "autoencoder", "classifier")
FIT_CAP = 6000  # normal items the one-class SVM and the autoencoder fit on (see the docstring)
# Published P1 mean AUROC, exactly as GUIDE §7 states them; no others.
PUBLISHED = {"mnist5k": [("Deep SVDD, MNIST (published)", 0.948)],
             "fashion-mnist": [("GEOM, Fashion-MNIST (published)", 0.935)]}


TABLES = ("breast-cancer",)


def splits(name: str):
    """(x_train, y_train, x_test, y_test, class names): model-space tensors (a table: DataFrames),
    int labels."""
    if name == "breast-cancer":  # the table case: 569 rows x 30 measurements, a stratified 50/50 split
        from sklearn.datasets import load_breast_cancer
        d = load_breast_cancer(as_frame=True)
        i_tr, i_te = train_test_split(np.arange(len(d.frame)), test_size=0.5, stratify=d.target, random_state=0)
        x, y = d.data, torch.from_numpy(d.target.to_numpy().copy())
        return (x.iloc[i_tr].reset_index(drop=True), y[i_tr], x.iloc[i_te].reset_index(drop=True), y[i_te],
                list(d.target_names))
    if name == "fashion-mnist":
        tr, te = load_builtin(name, "train"), load_builtin(name, "test")
        return tr.x, tr.labels, te.x, te.labels, tr.class_names
    d = load_builtin(name)
    frac = 0.5 if name == "digits" else 0.2
    i_tr, i_te = train_test_split(np.arange(len(d.x)), test_size=frac, stratify=d.labels.numpy(), random_state=0)
    i_tr, i_te = torch.from_numpy(i_tr), torch.from_numpy(i_te)
    return d.x[i_tr], d.labels[i_tr], d.x[i_te], d.labels[i_te], d.class_names


def baseline_scores(name: str, xtr: np.ndarray, xte: np.ndarray, seed: int, ytr: np.ndarray | None = None
                    ) -> np.ndarray:
    if name in ("ocsvm", "autoencoder") and len(xtr) > FIT_CAP:
        xtr = xtr[np.random.default_rng(seed).choice(len(xtr), FIT_CAP, replace=False)]
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
    if name == "classifier":  # labelled normal classes: 1 - the largest class probability
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(max_iter=300, random_state=seed).fit(xtr, ytr)
        return 1 - clf.predict_proba(xte).max(1)
    if name == "autoencoder":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
        ae = MLPRegressor(hidden_layer_sizes=(64,), max_iter=200, early_stopping=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ae.fit(xtr, xtr)
        return ((xte - ae.predict(xte)) ** 2).sum(1)
    raise ValueError(name)


def gan_scores(name: str, set_name: str, x_normal, xte, seed: int, extra: dict, tmp: Path,
               labelled=None) -> tuple[np.ndarray, dict]:
    """Fit on the normal items (a tensor of images, or a DataFrame: the table path), score xte.
    Images come as a user's labelled set would, `labelled` = (images, labels, names, normal
    classes): fit keeps the normal classes itself and sees how many there are."""
    settings = {**METHODS[name], **extra}
    table = set_name in TABLES
    if table:
        data = x_normal
    else:
        x, y, names, normal = labelled
        data = Dataset(set_name, "images", x, y, list(names))
        settings = {**settings, "normal_class": [str(c) for c in normal]}
    run = ganforge.anomaly.fit(data, tmp / f"{name}-{time.time_ns()}", seed=seed, progress=False, **settings)
    det = run.detector()
    s = ganforge.anomaly.score(run.path, xte)["score"].to_numpy() if table else det.scores(xte)
    spec = det.info["net"]
    spec = spec["kwargs"]["members"][0] if spec["net"] == "anomaly_ensemble" else spec
    return s, {"chosen_step": run.doc["chosen_step"], "settings": settings,
               "score_by": spec["kwargs"].get("score_by", "izi_f")}


def pixels(set_name: str, xtr, xte):
    """What the baselines see: pixels in [0, 1], or table rows encoded as ganforge encodes them
    (fitted on the training rows)."""
    if set_name in TABLES:
        from ganforge.data.table_vectors import encode_vectors, fit_vectors
        enc = fit_vectors(xtr)[0]
        return encode_vectors(xtr, enc), encode_vectors(xte, enc)
    return ((xtr.flatten(1) + 1) / 2).numpy(), ((xte.flatten(1) + 1) / 2).numpy()


def parse_extra(items: list[str]) -> dict:
    """`--opt fanogan.steps=500` -> {"fanogan": {"steps": 500}}."""
    out: dict = {}
    for it in items:
        key, val = it.split("=", 1)
        method, opt = key.split(".", 1)
        out.setdefault(method, {})[opt] = json.loads(val) if val[:1].isdigit() or val[:1] in "-[{tf" else val
    return out


def run(args) -> None:
    prov = provenance()
    extra = parse_extra(args.opt)
    out = RESULTS / ("anomaly_tuning.jsonl" if args.tuning else "anomaly.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        for set_name in args.sets:
            xtr, ytr, xte, yte, names = splits(set_name)
            for c in args.classes:
                normal_tr = (ytr == c) if args.protocol == "P1" else (ytr != c)
                normal = xtr[normal_tr.numpy()] if set_name in TABLES else xtr[normal_tr]
                ftr, fte = pixels(set_name, normal, xte)
                anomalous = (yte != c).numpy() if args.protocol == "P1" else (yte == c).numpy()
                for seed in args.seeds:
                    for m in args.methods:
                        t0, c0 = time.time(), time.process_time()
                        torch.manual_seed(seed)
                        info: dict = {}
                        if m == "classifier" and (args.protocol == "P1" or set_name in TABLES):
                            continue  # one normal class: nothing to classify
                        if m in BASELINES:
                            s = baseline_scores(m, ftr, fte, seed, ytr[normal_tr].numpy())
                            info = {"fit_items": min(len(ftr), FIT_CAP) if m in ("ocsvm", "autoencoder")
                                    else len(ftr)}
                        else:
                            classes = [c] if args.protocol == "P1" else [k for k in range(len(names)) if k != c]
                            s, info = gan_scores(m, set_name, normal, xte, seed, extra.get(m, {}), Path(tmp),
                                                 None if set_name in TABLES else (xtr, ytr, names, classes))
                        r = {**prov, "set": set_name, "protocol": args.protocol, "class": c, "class_name": names[c],
                             "seed": seed, "method": m, "auroc": round(float(roc_auc_score(anomalous, s)), 4),
                             "wall_s": round(time.time() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
                             "threads": torch.get_num_threads(), **info}
                        print(f"{set_name} {args.protocol} class {c} seed {seed} {m}: AUROC {r['auroc']:.4f} "
                              f"({r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU)", flush=True)
                        with open(out, "a") as f:
                            f.write(json.dumps(r) + "\n")


GOALS = {"P1": 0.93, "P2": 0.72}  # issue 20: the best ganforge method's mean AUROC on Fashion-MNIST


def cell(v: list[float]) -> str:
    return (f"{np.mean(v):.3f}" + (f" ± {np.std(v):.3f}" if len(v) > 1 else "")) if v else ""


def verdict(set_name: str, protocol: str, means: dict, common: list, names: dict) -> list[str]:
    """Plain sentences: the goal met or not, and every class where a baseline beats ganforge."""
    gans = [m for m in METHODS if m in means]
    bases = [m for m in BASELINES if m in means]
    if not gans or not bases or not common:
        return []
    avg = {m: float(np.mean([means[m][c] for c in common])) for m in means}
    g, b = max(gans, key=avg.get), max(bases, key=avg.get)
    out = []
    if set_name == "fashion-mnist" and len(common) == 10:
        goal = GOALS[protocol]
        out.append(f"Goal (issue 20): the best ganforge method >= {goal:.2f} mean AUROC. Best here: {g} "
                   f"{avg[g]:.3f}, {'met' if avg[g] >= goal else 'not met'}.")
    elif set_name == "fashion-mnist":
        out.append(f"Only {len(common)} of the 10 classes measured with every method: no verdict on the goal.")
    ab, ag = round(avg[b], 3), round(avg[g], 3)  # compared as shown
    out.append(f"Best baseline on the mean: {b} {ab:.3f}, "
               + (f"above the best ganforge method ({g} {ag:.3f}) by {ab - ag:.3f}: a baseline wins." if ab > ag else
                  f"equal to the best ganforge method ({g} {ag:.3f}): no method wins." if ab == ag else
                  f"below the best ganforge method ({g} {ag:.3f}) by {ag - ab:.3f}."))
    lost = []
    for c in common:
        bc, gc = max(bases, key=lambda m: means[m][c]), max(gans, key=lambda m: means[m][c])
        if means[bc][c] > means[gc][c]:
            lost.append(f"{c} {names[c]} ({bc} {means[bc][c]:.3f} vs {gc} {means[gc][c]:.3f})")
    out.append("Classes where a baseline beats every ganforge method: " + ("; ".join(lost) if lost else "none") + ".")
    return out


def render() -> str:
    """anomaly.md from anomaly.jsonl: the latest row per (set, protocol, class, seed, method)."""
    rows: dict = {}
    for line in (RESULTS / "anomaly.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows[(r["set"], r["protocol"], r["class"], r["seed"], r["method"])] = r
    order = [*METHODS, *BASELINES]
    out = [__doc__.split("\n\n")[1].replace("\n", " "), "", __doc__.split("\n\n")[2].replace("\n", " "), ""]
    sections = sorted(dict.fromkeys((k[0], k[1]) for k in rows),
                      key=lambda k: (k[0] != "fashion-mnist", k[0] in TABLES, k))
    for set_name, protocol in sections:
        sub = [r for k, r in rows.items() if k[:2] == (set_name, protocol)]
        methods = [m for m in order if any(r["method"] == m for r in sub)]
        classes = sorted({r["class"] for r in sub})
        seeds = sorted({r["seed"] for r in sub})
        what = ("the class is the normal one, the other nine anomalous" if protocol == "P1"
                else "the class is the left-out one (anomalous), the other nine normal")
        if set_name in TABLES:
            what = "the class is the normal one"
        out += [f"## {set_name}, {protocol}", "",
                f"AUROC per class ({what}); {len(seeds)} seed{'s' if len(seeds) > 1 else ''} {seeds}"
                + (" (± sd over seeds)" if len(seeds) > 1 else " (the issue asks 3: not run within the CPU budget)")
                + ". Measured " + "; ".join(sorted({f"{r['date'][:10]} at {r['commit']} on {r['machine']}" for r in sub}))
                + ", by " + ", ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in sub)) + ".", "",
                "| class | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        means: dict = {m: {} for m in methods}
        names = {r["class"]: r["class_name"] for r in sub}
        for c in classes:
            cells = []
            for m in methods:
                v = [r["auroc"] for r in sub if r["class"] == c and r["method"] == m]
                if v:
                    means[m][c] = float(np.mean(v))
                cells.append(cell(v))
            out.append(f"| {c} {names[c]} | " + " | ".join(cells) + " |")
        # methods measured on every class are compared; one measured on fewer (CPU budget) is shown apart
        full = [m for m in methods if len(means[m]) == len(classes)]
        partial = [m for m in methods if m not in full]
        avg = {m: np.mean(list(means[m].values())) for m in methods if means[m]}
        best = max(full, key=avg.get) if full else None
        out.append(f"| **mean of {len(classes)}** | " + " | ".join(
            ("**%.3f**" if m == best else "%.3f") % avg[m] if m in full
            else (f"{avg[m]:.3f} ({len(means[m])} class{'es' if len(means[m]) > 1 else ''})" if m in avg else "")
            for m in methods) + " |")
        out.append("| CPU s per fit | " + " | ".join(
            f"{np.mean([r['cpu_s'] for r in sub if r['method'] == m]):.0f}" for m in methods) + " |")
        fit_items = {r["method"]: r["fit_items"] for r in sub if "fit_items" in r}
        if any(fit_items.get(m) == FIT_CAP for m in ("ocsvm", "autoencoder")):
            out.append(f"\nocsvm and autoencoder fit on a random {FIT_CAP:,} of the normal items (see above); "
                       "iforest and pca on all of them.")
        if partial:
            out.append("\n" + "; ".join(f"{m} measured on class{'es' if len(means[m]) > 1 else ''} "
                                        f"{', '.join(map(str, sorted(means[m])))} only (CPU budget): not in the "
                                        f"comparison below" for m in partial) + ".")
        fewer = {m: sorted({r["seed"] for r in sub if r["method"] == m}) for m in methods}
        fewer = {m: v for m, v in fewer.items() if v != seeds}
        if fewer:  # a cell without ± is one seed's
            out.append("\n" + "; ".join(f"{m}: seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))} only"
                                        + (" (deterministic)" if m in ("pca", "classifier", "ocsvm") else
                                           " (CPU budget)") for m, v in fewer.items()) + ".")
        out += [""] + verdict(set_name, protocol, {m: means[m] for m in full}, classes, names)
        if protocol == "P1":
            for label, v in PUBLISHED.get(set_name, []):
                out.append(f"\n{label}: {v:.3f} mean AUROC over all ten classes (other nets, other budgets).")
        # the normal classes follow from the protocol and the class (each row's own list)
        settings = {r["method"]: {k: v for k, v in r["settings"].items() if k != "normal_class"}
                    for r in sub if "settings" in r}
        if settings:
            out.append("\nganforge settings: " + "; ".join(f"{m} {json.dumps(v)}" for m, v in settings.items()))
            # the score each method's rows used (ganforge's default for the data unless set above;
            # rows older than this record: the default at their commit, named in its git log)
            scores = {}
            for r in sub:
                if r["method"] in METHODS:
                    scores.setdefault(r["method"], set()).add(
                        r.get("score_by") or ("izi_f" if r["method"] == "fanogan" else "its commit's default"))
            out.append("\nScores used: " + "; ".join(f"{m} {' / '.join(sorted(v))}" for m, v in scores.items())
                       + " (ganforge's defaults: tables latent; images of one normal class recon+latent, of "
                         "several recon+latent+knn, of several labelled ones recon+latent+knn+cls).")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["digits", "mnist5k", "fashion-mnist"],
                    choices=["digits", "mnist5k", "fashion-mnist", *TABLES])
    ap.add_argument("--protocol", default="P1", choices=["P1", "P2"])
    ap.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--methods", nargs="+", default=[*METHODS, *BASELINES], choices=[*METHODS, *BASELINES])
    ap.add_argument("--opt", nargs="*", default=[], help="method.option=value overrides (tuning runs only)")
    ap.add_argument("--tuning", action="store_true", help="rows to anomaly_tuning.jsonl, not the results table")
    ap.add_argument("--table", action="store_true", help="only re-render anomaly.md from anomaly.jsonl")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.opt and not args.tuning:
        ap.error("--opt is for tuning runs: add --tuning (the results table holds the settings in METHODS)")
    torch.set_num_threads(args.threads)
    for m in METHODS.values():
        m.setdefault("threads", args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.table:
        run(args)
    if not args.tuning:
        write_result("anomaly", "Anomaly detection: ganforge detectors beside simple baselines (GUIDE §7)",
                     render(), {**provenance("python benchmarks/anomaly.py --table"),
                      "summary": "Rendered from anomaly.jsonl (the latest row of each case); each section says when, at "
                                 "which commit and on which machine its rows were measured."}, keep_history=False)


if __name__ == "__main__":
    main()
