"""Tuning aid for `ganforge anomaly fit --members`: does averaging several seeds' detectors help?

For each class, one-detector fits (`members=1`) with seeds S are scored on the test split
(benchmarks/anomaly.py's splits and protocols); each fit's scores are kept under --cache, so a
re-run only fits what is missing. The row gives each seed's AUROC, their mean, and the AUROC of
the mean score of the first two and of all seeds (each score is already standardized on its own
held-out normal items). Each seed also draws its own normal split here, a little more varied than
`--members`, whose members share one split. Tuning only: mnist5k by default, never the reported
Fashion-MNIST.

    python benchmarks/anomaly_members.py --set mnist5k --protocol P1 --classes 2 4 5 8 9 --seeds 0 1 2

One JSON line per class to benchmarks/results/anomaly_members.jsonl.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, provenance  # noqa: E402
from anomaly import splits  # noqa: E402

import ganforge.anomaly  # noqa: E402
from ganforge.data.base import Dataset  # noqa: E402


def fit_scores(set_name: str, protocol: str, c: int, seed: int, data, cache: Path) -> np.ndarray:
    xtr, ytr, xte, names = data
    path = cache / f"{set_name}_{protocol}_c{c}_s{seed}.npz"
    if not path.exists():
        normal = [c] if protocol == "P1" else [k for k in range(len(names)) if k != c]
        with tempfile.TemporaryDirectory() as tmp:
            run = ganforge.anomaly.fit(Dataset(set_name, "images", xtr, ytr, list(names)), Path(tmp) / "r",
                                       seed=seed, progress=False, method="ganomaly", members=1, threads=1,
                                       normal_class=[str(k) for k in normal])
            np.savez(path, score=run.detector().scores(xte))
    return np.load(path)["score"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="mnist5k", choices=["digits", "mnist5k", "fashion-mnist"])
    ap.add_argument("--protocol", default="P1", choices=["P1", "P2"])
    ap.add_argument("--classes", type=int, nargs="+", default=[2, 4, 5, 8, 9])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "ganforge_anomaly_members"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xte, yte, names = splits(args.set)
    for c in args.classes:
        t0 = time.process_time()
        scores = [fit_scores(args.set, args.protocol, c, s, (xtr, ytr, xte, names), cache) for s in args.seeds]
        normal = [c] if args.protocol == "P1" else [k for k in range(len(names)) if k != c]
        anomalous = ~np.isin(yte.numpy(), normal)
        each = [round(float(roc_auc_score(anomalous, s)), 4) for s in scores]
        row = {**provenance(), "set": args.set, "protocol": args.protocol, "class": c, "seeds": args.seeds,
               "auroc_each": each, "auroc_mean_of_each": round(float(np.mean(each)), 4),
               "auroc_of_mean_2": round(float(roc_auc_score(anomalous, np.mean(scores[:2], 0))), 4),
               "auroc_of_mean_all": round(float(roc_auc_score(anomalous, np.mean(scores, 0))), 4),
               "cpu_s_this_call": round(time.process_time() - t0, 1)}
        print(json.dumps({k: row[k] for k in ("class", "auroc_each", "auroc_mean_of_each", "auroc_of_mean_2",
                                              "auroc_of_mean_all")}), flush=True)
        with open(RESULTS / "anomaly_members.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
