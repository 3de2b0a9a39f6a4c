"""Tuning tables for TabularGAN's defaults: candidate settings beside CTGAN, on tables that
are NOT the held-out ones of tabular_heldout.py (anes96, modechoice, randhie never appear here).

The tuning tables are random row subsets (seed 0) of the two tables the defaults were always
tuned on, plus scikit-learn's breast-cancer table, so small tables (hundreds of rows, where one
CTGAN epoch of 500 rows is one step) are represented:

- adult-1000 / adult-5000: 1,000 / 5,000 rows of ../shared/data/adult.csv, target `income`;
  discrete columns from adult.json.
- fair-800: 800 rows of statsmodels' fair (as `ganforge tabular fit fair` loads it), target
  `had_affair` = affairs > 0 (the `affairs` rate itself is dropped); discrete: the 4 labelled
  columns, educ and had_affair.
- breast-cancer: scikit-learn's 569 rows x 30 measurements + target `malignant`.

Protocol as tabular_heldout.py (80/20 split, random_state 0; quality, ML-efficacy F1 against the
20% holdout; fit CPU seconds, one torch thread). CTGAN 0.12.1 at its defaults is fitted once per
table (its rows are reused by later runs of this script unless --ctgan-again). Each candidate
(CANDIDATES) is fitted with every seed in --seeds. The rendered table shows per candidate the mean
over tables and seeds of quality and F1 minus CTGAN's, and the fit-time ratio.

    python benchmarks/tabular_tune.py --candidates epochs-200 lr-5e-4 --seeds 0 1
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from _record import RESULTS, latest, provenance, write_result
from tabular_adult import DATA, finish_ctgan, start_ctgan

JSONL = RESULTS / "tabular_tune.jsonl"
TABLES = ["adult-1000", "fair-800", "breast-cancer", "adult-5000"]
# TabularGAN keyword settings on top of its defaults, each named in full (defaults change)
CANDIDATES = {
    "epochs-100": {"epochs": 100},  # the default before 200 (rows measured as "default" at eb83cdf)
    "epochs-200": {"epochs": 200},  # the default since
    "lr-5e-4": {"epochs": 200, "lr": 5e-4},
    "lr-1e-3": {"epochs": 200, "lr": 1e-3},
    "ema-0.99": {"epochs": 200, "ema_decay": 0.99},
    "ema-0.995": {"epochs": 200, "ema_decay": 0.995},
    "batch-100": {"epochs": 100, "batch_size": 100},
    "batch-200": {"epochs": 100, "batch_size": 200},
    "batch-100-epochs-50": {"batch_size": 100, "epochs": 50},
}


def load(name: str):
    """(table, target, discrete columns) of one tuning table, as the docstring describes."""
    import pandas as pd
    if name.startswith("adult-"):
        df = pd.read_csv(DATA / "adult.csv", skipinitialspace=True)
        types = json.loads((DATA / "adult.json").read_text())["columns"]
        discrete = [c["name"] for c in types if c["type"] in ("categorical", "ordinal")]
        return df.sample(int(name.split("-")[1]), random_state=0).reset_index(drop=True), "income", discrete
    if name == "fair-800":
        from ganforge.data.table_columns import load_demo
        df = load_demo("fair").sample(800, random_state=0).reset_index(drop=True)
        df["had_affair"] = (df.pop("affairs") > 0).astype(int)
        return df, "had_affair", ["rate_marriage", "religious", "occupation", "occupation_husb", "educ", "had_affair"]
    if name == "breast-cancer":
        from sklearn.datasets import load_breast_cancer
        b = load_breast_cancer(as_frame=True)
        df = b.data.assign(malignant=(b.target == 0).astype(int))
        return df, "malignant", ["malignant"]
    raise SystemExit(f"unknown table {name!r}; choose from {', '.join(TABLES)}")


def scores(r: dict) -> dict:
    m = r["ml_efficacy"]["synthetic"]
    return {"quality": r["quality"]["quality"], "f1": m["f1"], "auroc": m["auroc"]}


def run(args, prov: dict) -> None:
    from sklearn.model_selection import train_test_split
    from ganforge.metrics.table_evaluate import evaluate
    from ganforge.tabular import TabularGAN

    have_ctgan = latest(JSONL, lambda r: (r["table"], r["candidate"])) if JSONL.exists() else {}
    for name in args.tables:
        df, target, discrete = load(name)
        train, hold = (t.reset_index(drop=True) for t in train_test_split(df, test_size=0.2, random_state=0))
        ev = lambda s: scores(evaluate(train, s, hold, target=target, discrete=discrete))
        base = {"table": name, "rows": len(df), "date": prov["date"], "commit": prov["commit"],
                "machine": prov["machine"], "command": prov["command"]}
        if args.ctgan_again or (name, "ctgan") not in have_ctgan:
            with tempfile.TemporaryDirectory(prefix="ganforge-ctgan-") as tmp:
                cs, fit_s, _, cpu = finish_ctgan(*start_ctgan(train, discrete, len(train), 300, 1, tmp))
            _append(dict(base, candidate="ctgan", seed=None, settings={"epochs": 300}, fit_s=fit_s, fit_cpu_s=cpu, **ev(cs)))
        for cand in args.candidates:
            for seed in args.seeds:
                model = TabularGAN(progress=False, verbose=False, seed=seed, **CANDIDATES[cand])
                t0, c0 = time.time(), time.process_time()
                model.fit(train, discrete_columns=discrete)
                fit_s, cpu = time.time() - t0, time.process_time() - c0
                _append(dict(base, candidate=cand, seed=seed, settings=CANDIDATES[cand], fit_s=fit_s,
                             fit_cpu_s=cpu, **ev(model.sample(len(train), seed=seed))))


def _append(rec: dict) -> None:
    with JSONL.open("a") as f:
        f.write(json.dumps(rec, default=float) + "\n")
    print(f"  {rec['table']} {rec['candidate']} seed {rec['seed']}: quality {rec['quality']:.3f} "
          f"F1 {rec['f1']:.3f} fit {rec['fit_cpu_s']:.0f} CPU s", flush=True)


def render(prov: dict) -> None:
    rows = latest(JSONL, lambda r: (r["table"], r["candidate"], r["seed"]))
    ctgan = {r["table"]: r for r in rows.values() if r["candidate"] == "ctgan"}
    tables = [t for t in TABLES if t in ctgan]
    doc = ["Tuning tables (never the held-out ones): " + ", ".join(tables) + ". Cells: quality / F1 / "
           "fit CPU s, mean over the seeds measured (n); CTGAN 0.12.1 at its defaults, one fit per table. "
           "Last columns: mean over the tables of the difference to CTGAN and of the fit-time ratio.", "",
           "| candidate | settings | " + " | ".join(tables) + " | quality - CTGAN | F1 - CTGAN | time / CTGAN |",
           "|---|---|" + "---|" * (len(tables) + 3)]
    doc.append("| CTGAN | 300 epochs | " + " | ".join(
        f"{ctgan[t]['quality']:.3f} / {ctgan[t]['f1']:.3f} / {ctgan[t]['fit_cpu_s']:.0f}" for t in tables) + " | 0 | 0 | 1 |")
    for cand in CANDIDATES:
        cells, dq, df1, ratio = [], [], [], []
        for t in tables:
            rs = [r for r in rows.values() if r["table"] == t and r["candidate"] == cand]
            if not rs:
                cells.append("")
                continue
            q, f, c = (float(np.mean([r[k] for r in rs])) for k in ("quality", "f1", "fit_cpu_s"))
            cells.append(f"{q:.3f} / {f:.3f} / {c:.0f} (n={len(rs)})")
            dq.append(q - ctgan[t]["quality"]), df1.append(f - ctgan[t]["f1"]), ratio.append(c / ctgan[t]["fit_cpu_s"])
        if dq:
            settings = json.dumps(CANDIDATES[cand])
            doc.append(f"| {cand} | `{settings}` | " + " | ".join(cells) +
                       f" | {np.mean(dq):+.3f} ({len(dq)} tables) | {np.mean(df1):+.3f} | {np.mean(ratio):.2f} |")
    commits = sorted({r["commit"] for r in rows.values()})
    prov = dict(prov, summary=f"Rendered from tabular_tune.jsonl; rows measured at {', '.join(commits)} on "
                              f"{prov['machine']}.")
    write_result("tabular_tune", "TabularGAN tuning tables", "\n".join(doc), prov, keep_history=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=TABLES, choices=TABLES)
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--ctgan-again", action="store_true", help="fit CTGAN again even if a row exists")
    ap.add_argument("--table-only", action="store_true", help="only rewrite the .md from the .jsonl")
    args = ap.parse_args()
    prov = provenance()
    if not args.table_only:
        import torch
        torch.set_num_threads(1)
        os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        run(args, prov)
    render(prov)


if __name__ == "__main__":
    main()
