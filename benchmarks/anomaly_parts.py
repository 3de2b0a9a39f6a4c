"""Tuning aid for ganomaly on images: one fit per class, AUROC of several scores built from it.

Each fit (`ganforge.anomaly.fit`, method ganomaly, the given options) is scored on the test
split (benchmarks/anomaly.py's splits and protocols) by: recon ||x - G(x)||²; latent
||z - z'||²; dfeat, the residual of the critic's features (the critic of the chosen step);
maha, the Mahalanobis distance of z = E(x) (mean and covariance of up to 4,000 training
items); knn, the mean distance of z to its 5 nearest training codes; sums of these parts, each standardized by its mean and sd on the held-out threshold
half of the normal items (recon+latent, recon+maha, recon+dfeat, all3 = recon+dfeat+latent);
and avg3, the standardized recon averaged over the three checkpoints with the lowest
validation error. Normal data only ever standardizes or chooses; anomalies never do.

    python benchmarks/anomaly_parts.py --set mnist5k --classes 2 4 5 8 9 --tag s4000 --opt steps=4000

One JSON line per (class, options) to benchmarks/results/anomaly_parts.jsonl; tuning only (the
results table is benchmarks/anomaly.py's).
"""
from __future__ import annotations

import argparse
import copy
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
from ganforge.apps.anomaly import split_normal  # noqa: E402
from ganforge.data.base import Dataset  # noqa: E402
from ganforge.nets.anomaly import critic_features, per_item  # noqa: E402


class Snapshots:
    """Trainer callback: a copy of G and D at every validation step."""

    def __init__(self):
        self.snaps = []

    def __call__(self, trainer, rec):
        if rec.get("val_recon") is not None:
            self.snaps.append((rec["val_recon"], trainer.step, *(copy.deepcopy(trainer.family.nets[k]).eval()
                                                                  for k in ("G", "D"))))


@torch.no_grad()
def parts(G, D, x, bs=512) -> dict:
    out = {k: [] for k in ("recon", "latent", "dfeat", "z", "cls")}
    for i in range(0, len(x), bs):
        xb = x[i:i + bs].float()
        r, z, z2 = G(xb)
        out["recon"].append(per_item((xb - r) ** 2))
        out["latent"].append(per_item((z - z2) ** 2))
        if D is not None:
            out["dfeat"].append(per_item((critic_features(D, xb)[0] - critic_features(D, r)[0]) ** 2))
        out["z"].append(z)
        if hasattr(G, "cls_head"):  # w_cls: 1 - the class head's largest probability
            out["cls"].append(1 - G.cls_head(z).softmax(1).max(1).values)
    return {k: torch.cat(v).double().numpy() for k, v in out.items() if v}


def maha(z_train: np.ndarray, z: np.ndarray) -> np.ndarray:
    d = z - z_train.mean(0)
    inv = np.linalg.inv(np.cov(z_train, rowvar=False) + 1e-6 * np.eye(z_train.shape[1]))
    return np.einsum("ij,jk,ik->i", d, inv, d)


def knn(z_train: np.ndarray, z: np.ndarray, k: int = 5, bs: int = 1024) -> np.ndarray:
    """Mean distance of each z to its k nearest training codes (codes scaled by the training sd):
    unlike `maha`, it does not assume the normal codes form one blob (several normal classes)."""
    sd = z_train.std(0) + 1e-8
    ref = torch.from_numpy(z_train / sd)
    out = []
    for i in range(0, len(z), bs):
        d = torch.cdist(torch.from_numpy(z[i:i + bs] / sd), ref)
        out.append(d.topk(k, largest=False).values.mean(1))
    return torch.cat(out).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="mnist5k", choices=["digits", "mnist5k", "fashion-mnist"])
    ap.add_argument("--protocol", default="P1", choices=["P1", "P2"])
    ap.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="", help="a name for these options in the rows")
    ap.add_argument("--opt", nargs="*", default=[], help="ganomaly options, key=value (JSON values)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    opts = {k: json.loads(v) for k, v in (o.split("=", 1) for o in a.opt)}
    prov = provenance()
    xtr, ytr, xte, yte, names = splits(a.set)
    for c in a.classes:
        normal = (xtr[ytr == c] if a.protocol == "P1" else xtr[ytr != c]).contiguous()
        anomalous = (yte != c).numpy() if a.protocol == "P1" else (yte == c).numpy()
        snaps, c0 = Snapshots(), time.process_time()
        normal_classes = [c] if a.protocol == "P1" else [k for k in range(len(names)) if k != c]
        with tempfile.TemporaryDirectory() as tmp:  # the labelled set, as a user gives it (several classes keep labels)
            run = ganforge.anomaly.fit(Dataset(a.set, "images", xtr, ytr, list(names)), Path(tmp) / "r", seed=a.seed,
                                       progress=False, callbacks=[snaps], method="ganomaly", threads=1, members=1,
                                       normal_class=[str(k) for k in normal_classes],
                                       **{"anomaly_score": "recon", **opts})
            G = run.detector().net.eval()
        cpu = time.process_time() - c0
        train, _, x_cal = split_normal(Dataset(a.set, "images", normal), a.seed)
        D = next(s[3] for s in snaps.snaps if s[1] == run.doc["chosen_step"])
        P, C, T = parts(G, D, xte), parts(G, D, x_cal), parts(G, D, train.x[:4000])
        P["maha"], C["maha"] = maha(T["z"], P["z"]), maha(T["z"], C["z"])
        P["knn"], C["knn"] = knn(T["z"], P["z"]), knn(T["z"], C["z"])

        def std(k, p=P, q=C):
            return (p[k] - q[k].mean()) / q[k].std()
        S = {k: P[k] for k in ("recon", "latent", "dfeat", "maha", "knn")}
        S.update({"recon+latent": std("recon") + std("latent"), "recon+maha": std("recon") + std("maha"),
                  "recon+dfeat": std("recon") + std("dfeat"),
                  "all3": std("recon") + std("dfeat") + std("latent"), "recon+knn": std("recon") + std("knn"),
                  "recon+latent+knn": std("recon") + std("latent") + std("knn")})
        if "cls" in P:
            S.update({"cls": P["cls"], "recon+latent+cls": std("recon") + std("latent") + std("cls"),
                      "recon+latent+knn+cls": std("recon") + std("latent") + std("knn") + std("cls")})
        S["avg3"] = sum(std("recon", parts(g, None, xte), parts(g, None, x_cal))
                        for _, _, g, _ in sorted(snaps.snaps, key=lambda s: s[0])[:3])
        row = {**prov, "set": a.set, "protocol": a.protocol, "class": c, "class_name": names[c], "seed": a.seed,
               "tag": a.tag, "opts": opts, "cpu_s": round(cpu, 1), "chosen_step": run.doc["chosen_step"],
               "auroc": {k: round(float(roc_auc_score(anomalous, v)), 4) for k, v in S.items()}}
        print(json.dumps(row), flush=True)
        with open(RESULTS / "anomaly_parts.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
