"""Held-out tables: ganforge TabularGAN (defaults) vs CTGAN 0.12.1 (defaults, 300 epochs).

TabularGAN's defaults were tuned on UCI adult (benchmarks/tabular_adult.py) and on the built-in
`fair` table (statsmodels' fair). The three tables here were NOT used for tuning (held out); each
ships with statsmodels, so the run needs no download:

- anes96: 1996 American National Election Study, 944 rows x 11 columns; target `vote`
  (0 = Clinton, 1 = Dole), as shipped. Discrete: the 7-point scales, TV-news days, education,
  income bracket and vote; continuous: popul, age, logpopul.
- modechoice: travel mode choice Sydney-Melbourne, 840 rows (210 travellers x 4 modes); the
  `individual` ID column is dropped -> 8 columns; target `choice` (was this mode chosen), as
  shipped. Discrete: mode, choice, psize; the rest continuous. Rows of one traveller can fall on
  both sides of the split.
- randhie: RAND Health Insurance Experiment, 20,190 person-years; target `any_visit` = mdvis > 0
  (the visit count binarised; the count itself is dropped), and the three health dummies
  hlthg/hlthf/hlthp folded into one 4-level column `health` (excellent/good/fair/poor) -> 8
  columns. Discrete: any_visit, lncoins (5 coinsurance levels), idp, health; the rest continuous.

Protocol (tabular_adult.py's, imported from it): 80/20 split with sklearn
train_test_split(random_state=0); each synthesizer fits the 80% with the same discrete-column list
and samples as many rows; both are scored by ganforge.metrics.table_evaluate against the 20%
holdout. Unlike tabular_adult.py the two fits run one after the other (ours, then CTGAN in
.venv-ctgan), one torch thread each, so each process uses one core. Fit time includes each tool's
column transform; wall and CPU (process) seconds are both recorded, and the time verdict uses CPU
seconds (wall time depends on what else shares the machine). Goal per table: quality >= CTGAN's,
F1 >= CTGAN's and fit CPU time <= 0.5x CTGAN's.

    python benchmarks/tabular_heldout.py                       # all three tables
    python benchmarks/tabular_heldout.py --tables anes96 --seed 1
    python benchmarks/tabular_heldout.py --table-only          # rewrite the .md from the .jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _record import latest, provenance, write_result
from tabular_adult import ROOT, finish_ctgan, row, start_ctgan

TUNED_ON = ["adult", "fair"]
HELD_OUT = ["anes96", "modechoice", "randhie"]
RESULTS = ROOT / "benchmarks" / "results"
JSONL = RESULTS / "tabular_heldout.jsonl"


def load(name: str):
    """(table, target, discrete columns) of one held-out table, as described in the docstring."""
    import statsmodels.api as sm
    df = getattr(sm.datasets, name).load_pandas().data
    if name == "anes96":
        discrete = ["TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "educ", "income", "vote"]
        df[discrete] = df[discrete].astype(int)
        return df, "vote", discrete
    if name == "modechoice":
        df = df.drop(columns="individual")
        df[["mode", "choice", "psize"]] = df[["mode", "choice", "psize"]].astype(int)
        return df, "choice", ["mode", "choice", "psize"]
    if name == "randhie":
        import numpy as np
        health = np.select([df.hlthp == 1, df.hlthf == 1, df.hlthg == 1], ["poor", "fair", "good"], "excellent")
        df = df.drop(columns=["hlthg", "hlthf", "hlthp"]).assign(health=health)
        df.insert(0, "any_visit", (df.pop("mdvis") > 0).astype(int))
        df["lncoins"] = df["lncoins"].round(3)
        return df, "any_visit", ["any_visit", "lncoins", "idp", "health"]
    raise SystemExit(f"unknown table {name!r}; choose from {', '.join(HELD_OUT)}")


def verdict(ours: dict, ctgan: dict) -> dict:
    q = ours["quality"]["quality"] >= ctgan["quality"]["quality"]
    f1 = ours["ml_efficacy"]["synthetic"]["f1"] >= ctgan["ml_efficacy"]["synthetic"]["f1"]
    ratio = ours["fit_cpu_s"] / ctgan["fit_cpu_s"]
    return {"quality": q, "f1": f1, "time": ratio <= 0.5, "cpu_ratio": round(ratio, 3),
            "wall_ratio": round(ours["fit_s"] / ctgan["fit_s"], 3), "met": q and f1 and ratio <= 0.5}


def verdict_line(table: str, v: dict, ours: dict, ctgan: dict) -> str:
    ok = lambda b: "yes" if b else "NO"
    return (f"{table}: quality {ours['quality']['quality']:.3f} vs {ctgan['quality']['quality']:.3f} "
            f"(>= {ok(v['quality'])}), F1 {ours['ml_efficacy']['synthetic']['f1']:.3f} vs "
            f"{ctgan['ml_efficacy']['synthetic']['f1']:.3f} (>= {ok(v['f1'])}), fit CPU "
            f"{v['cpu_ratio']:.2f}x CTGAN's (<= 0.5x {ok(v['time'])}; wall {v['wall_ratio']:.2f}x) "
            f"-> goal {'MET' if v['met'] else 'NOT met'}")


def run_table(name: str, args, prov: dict) -> dict:
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from ganforge.metrics.table_evaluate import evaluate
    from ganforge.tabular import TabularGAN

    df, target, discrete = load(name)
    train, hold = train_test_split(df, test_size=0.2, random_state=0)
    train, hold = train.reset_index(drop=True), hold.reset_index(drop=True)
    ev = lambda s: evaluate(train, s, hold, target=target, discrete=discrete)
    keep = ROOT / "runs" / "bench_tabular_heldout"  # synthetic tables kept for inspection (not committed)
    keep.mkdir(parents=True, exist_ok=True)
    res, load_avg = {}, [os.getloadavg()[0]]

    model = TabularGAN(progress=False, verbose=False, seed=args.seed)
    t0, c0 = time.time(), time.process_time()
    model.fit(train, discrete_columns=discrete)
    fit_s, fit_cpu = time.time() - t0, time.process_time() - c0
    t0 = time.time()
    synth = model.sample(len(train))
    res["ours"] = dict(ev(synth), fit_s=fit_s, fit_cpu_s=fit_cpu, sample_s=time.time() - t0,
                       label=f"ganforge TabularGAN ({model.params['epochs']} epochs, seed {args.seed})")
    synth.to_csv(keep / f"{name}_ours_seed{args.seed}.csv", index=False)
    print(f"  {name}: ours fitted in {fit_s:.0f} s ({fit_cpu:.0f} CPU s)", flush=True)

    load_avg.append(os.getloadavg()[0])
    with tempfile.TemporaryDirectory(prefix="ganforge-ctgan-") as tmp:
        cs, cfit, csample, ccpu = finish_ctgan(*start_ctgan(train, discrete, len(train), 300, 1, tmp))
    cs.to_csv(keep / f"{name}_ctgan_seed{args.seed}.csv", index=False)
    res["ctgan"] = dict(ev(cs), fit_s=cfit, fit_cpu_s=ccpu, sample_s=csample, label="CTGAN 0.12.1 (300 epochs)")
    print(f"  {name}: CTGAN fitted in {cfit:.0f} s ({ccpu:.0f} CPU s)", flush=True)
    res["real"] = dict(ev(hold), label="real holdout (reference; F1/AUROC: trained on real)")
    load_avg.append(os.getloadavg()[0])

    rec = {"table": name, "seed": args.seed, "rows": len(df), "columns": len(df.columns), "target": target,
           "discrete": discrete, "train": len(train), "holdout": len(hold), "date": prov["date"],
           "commit": prov["commit"], "machine": prov["machine"], "load_average": [round(x, 2) for x in load_avg],
           "command": prov["command"], "results": res, "verdict": verdict(res["ours"], res["ctgan"])}
    with JSONL.open("a") as f:
        f.write(json.dumps(rec, default=float) + "\n")
    print(verdict_line(name, rec["verdict"], res["ours"], res["ctgan"]), flush=True)
    return rec


def render(prov: dict) -> None:
    """benchmarks/results/tabular_heldout.md from the jsonl: the latest row per table and seed."""
    recs = sorted(latest(JSONL, lambda r: (r["table"], r["seed"])).values(),
                  key=lambda r: (HELD_OUT.index(r["table"]), r["seed"]))
    head = ("| synthesizer | quality | shapes | pairs | F1 | AUROC | DCR median | closer than holdout p5 "
            "| exact copies | MIA AUROC | fit s | sample s |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    doc = [f"TabularGAN's defaults were tuned on {' and '.join(TUNED_ON)}; the tables below were held out "
           f"({', '.join(HELD_OUT)}, from statsmodels). Goal per table: quality >= CTGAN's at its defaults, "
           "ML-efficacy F1 >= CTGAN's, fit time <= 0.5x CTGAN's (fit CPU seconds; wall in brackets), "
           "both fitted in the same run, one after the other, one torch thread each.", "",
           "| table | rows x cols | target | seed | quality ours / CTGAN | F1 ours / CTGAN | fit CPU s ours / "
           "CTGAN (wall) | time ratio (CPU, wall) | goal |", "|---|---|---|---|---|---|---|---|---|"]
    for r in recs:
        o, c, v = r["results"]["ours"], r["results"]["ctgan"], r["verdict"]
        mark = lambda b: "" if b else " ✗"
        doc.append(f"| {r['table']} | {r['rows']} x {r['columns']} | {r['target']} | {r['seed']} | "
                   f"{o['quality']['quality']:.3f} / {c['quality']['quality']:.3f}{mark(v['quality'])} | "
                   f"{o['ml_efficacy']['synthetic']['f1']:.3f} / {c['ml_efficacy']['synthetic']['f1']:.3f}"
                   f"{mark(v['f1'])} | {o['fit_cpu_s']:.0f} / {c['fit_cpu_s']:.0f} ({o['fit_s']:.0f} / "
                   f"{c['fit_s']:.0f}) | {v['cpu_ratio']:.2f}, {v['wall_ratio']:.2f}{mark(v['time'])} | "
                   f"{'met' if v['met'] else 'not met'} |")
    for r in recs:
        res = r["results"]
        doc += ["", f"## {r['table']} (seed {r['seed']})", "",
                f"{r['rows']} rows x {r['columns']} columns, target `{r['target']}`; discrete: "
                f"{', '.join(r['discrete'])}. Split {r['train']} train / {r['holdout']} holdout. Measured "
                f"{r['date']} at commit {r['commit']}; load average {' -> '.join(map(str, r['load_average']))} "
                "(start, between the fits, end).", "", head,
                row(res["ours"]["label"], res["ours"], res["ours"]["fit_s"], res["ours"]["sample_s"]),
                row(res["ctgan"]["label"], res["ctgan"], res["ctgan"]["fit_s"], res["ctgan"]["sample_s"]),
                row(res["real"]["label"], res["real"], None, None, reference=True), "",
                f"Fit CPU seconds: ours {res['ours']['fit_cpu_s']:.0f}, CTGAN {res['ctgan']['fit_cpu_s']:.0f}."]
    some = recs[-1]["results"]["ours"]
    doc += ["", "Protocols (as in tabular_adult.md):", f"- quality: {some['quality']['protocol']}",
            f"- ML efficacy: {some['ml_efficacy']['protocol']}", f"- privacy: {some['privacy']['protocol']}",
            "- the reference row scores the real holdout as if it were synthetic."]
    dates = sorted({r["date"] for r in recs})
    prov = dict(prov, summary=f"Rows measured {dates[0]} to {dates[-1]} on {recs[-1]['machine']} (each row "
                              f"names its commit); rendered from tabular_heldout.jsonl.")
    write_result("tabular_heldout", "Held-out tables: ganforge TabularGAN vs CTGAN", "\n".join(doc), prov,
                 keep_history=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=HELD_OUT, choices=HELD_OUT)
    ap.add_argument("--seed", type=int, default=0, help="TabularGAN's seed (CTGAN's run is unseeded)")
    ap.add_argument("--table-only", action="store_true", help="only rewrite the .md from the .jsonl")
    args = ap.parse_args()
    prov = provenance()
    if not args.table_only:
        import torch
        torch.set_num_threads(1)
        os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        for name in args.tables:
            print(f"{name} ...", flush=True)
            run_table(name, args, prov)
    render(prov)


if __name__ == "__main__":
    main()
