"""`ganforge evaluate RUN` for a time-series run: TimeGAN's discriminative and predictive scores
(metrics/timeseries.py) with a real-vs-real floor measured the same way.

Protocol: the run's real windows (reloaded as training saw them) are split, seeded, into
disjoint halves A and B of n each; n windows are generated. Discriminative: a post-hoc GRU
tells generated from A; floor: B from A. Predictive: a post-hoc GRU trained on generated windows
predicts A's last feature one step ahead; floor: the same GRU trained on B. Sliding windows of
one series overlap, so A and B share most of their steps: the floor is a lower bound.
"""
from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import torch

from ..artifacts.series import SeriesModel
from ..data.series import read_series
from ..io.checkpoint import atomic_write_text, read_metadata
from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from .timeseries import discriminative_score, predictive_score

DISC_ITERS, PRED_ITERS = 2000, 5000  # TimeGAN's


def real_window_halves(data, n: int, seed: int):
    """Two disjoint random sets of n real windows, A and B, each with its lengths: (xa, la, xb, lb)."""
    p = torch.randperm(len(data.x), generator=torch.Generator().manual_seed(seed))
    a, b = p[:n], p[n:2 * n]
    return data.x[a], data.lengths[a], data.x[b], data.lengths[b]


def evaluate_series(run_dir: str | Path, n: int | None = None, seed: int = 0, write: bool = True,
                    log=None, metrics_json: str = "metrics.json") -> dict:
    t0 = time.time()
    run = RunDir(run_dir)
    cfg, meta = run.read_config()["config"], run.read_config()["data"]
    data = read_series(cfg["data"], cfg.get("window"))
    if list(data.shape) != list(meta["shape"]):
        raise GanforgeError(f"the data '{cfg['data']}' now gives windows {list(data.shape)}, but the run was "
                            f"trained on {meta['shape']}; evaluate against the original data")
    gen = SeriesModel.load(run.path)
    total = len(data.x)
    n = min(n or 2000, total // 2)
    if n < 20:
        raise GanforgeError(f"-n must be at least 20, got {n}")
    xa, la, xb, lb = real_window_halves(data, n, seed)
    xg, lg = gen.sample_tensor(n, seed=seed + 1)
    if log:
        log(f"evaluating {run.path}: {n:,} generated vs {n:,} real windows (post-hoc GRUs: "
            f"{DISC_ITERS:,} + {PRED_ITERS:,} Adam steps, twice)")
    rows = []
    for key, label, fn, better in (
            ("discriminative", "discriminative score", lambda x, lx: discriminative_score(
                xa, x, la, lx, seed=seed, iterations=DISC_ITERS), "lower (0 = indistinguishable)"),
            ("predictive", "predictive MAE", lambda x, lx: predictive_score(
                x, xa, lx, la, seed=seed, iterations=PRED_ITERS), "lower")):
        value, floor = fn(xg, lg), fn(xb, lb)
        rows.append({"metric": key, "label": label, "value": round(value, 4), "floor": round(floor, 4),
                     "better": better, "protocol": "TimeGAN's; floor: real half B"})
        if log:
            log(f"  {label}: {value:.4f} (real B: {floor:.4f})")
    doc = {"kind": "series", "run": str(run.path), "family": gen.info.get("family"), "data": data.name,
           "step": int(read_metadata(run.checkpoint_path)["step"]) if run.has_checkpoint() else None,
           "evaluated_at": datetime.datetime.now().isoformat(timespec="seconds"),
           "protocol": {"n_generated": n, "n_real": n, "real_split": f"two disjoint random halves of {n:,} "
                        f"windows (seed {seed})", "floor": "real half B scored against real half A exactly like "
                        "the generated windows", "discriminative": "|accuracy - 0.5| of a post-hoc GRU, 80/20 split",
                        "predictive": "MAE on A of a post-hoc GRU predicting the last feature one step ahead",
                        "space": "min-max scaled [0, 1] per feature", "sample_seed": seed + 1},
           "metrics": rows, "seconds": round(time.time() - t0, 2), "threads": torch.get_num_threads()}
    if write:
        atomic_write_text(run.path / metrics_json, json.dumps(doc, indent=2) + "\n")
    return doc


def format_series(doc: dict) -> str:
    p = doc["protocol"]
    lines = [f"{doc['family']} on {doc['data']}, step {doc['step']}  ({doc['run']})",
             "protocol   TimeGAN's (Yoon et al. 2019): " + p["discriminative"] + "; " + p["predictive"],
             f"samples    {p['n_generated']:,} generated vs {p['n_real']:,} real; real split: {p['real_split']}",
             f"floor      {p['floor']}", "",
             f"{'metric':<22}{'value':>10}  {'real-vs-real':>12}  better"]
    lines += [f"{r['label']:<22}{r['value']:>10.4f}  {r['floor']:>12.4f}  {r['better']}" for r in doc["metrics"]]
    lines += ["", f"evaluated in {doc['seconds']} s on {doc['threads']} thread(s); written to {doc['run']}/metrics.json"]
    return "\n".join(lines)
