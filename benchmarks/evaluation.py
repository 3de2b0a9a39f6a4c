"""Evaluation benchmark: mnist5k cgan and fashion-mnist cgan (what `ganforge train fashion-mnist`
trains: it is labelled) and dcgan, trained at their defaults, scored
by `ganforge evaluate` with the real-vs-real floor, and the time one evaluation takes.

    .venv/bin/python benchmarks/evaluation.py [--runs runs/bench-eval] [--retrain]

Training uses 1 thread (the machine is shared); evaluation is timed with 2 threads. Runs that
already reached their configured steps are reused. Writes benchmarks/results/evaluation.md.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import ganforge
from _record import provenance, write_result
from ganforge.metrics.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent
RUNS = [("mnist5k", "cgan"), ("fashion-mnist", "cgan"), ("fashion-mnist", "dcgan")]
SHOW = ["fid", "kid", "precision", "recall", "density", "coverage", "classifier_score", "label_accuracy"]


def one_thread() -> dict:
    """Train on one thread (shared machine)."""
    torch.set_num_threads(1)
    return {"threads": 1}


def ensure_run(data: str, model: str, folder: Path, retrain: bool) -> tuple[Path, float | None]:
    out = folder / f"{data}-{model}"
    if out.exists() and not retrain:
        run = ganforge.Run(out)
        if run.step >= run.config["config"]["steps"]:
            return out, None
        print(f"{out}: incomplete, resuming")
        ganforge.train(data, model=model, out=out, resume=True, progress=False, **one_thread())
        return out, None
    if out.exists():  # a benchmark never deletes a user's folder
        raise SystemExit(f"{out} exists; --retrain does not delete it: remove it yourself or pass another --runs")
    opts = one_thread()
    t0 = time.time()
    ganforge.train(data, model=model, out=out, progress=False, **opts)
    return out, time.time() - t0


def fmt(v) -> str:
    if v is None:
        return "–"
    return str(v) if isinstance(v, int) else f"{v:.4g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=str(ROOT / "runs" / "bench-eval"))
    ap.add_argument("--retrain", action="store_true")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    prov = provenance()
    docs = []
    for data, model in RUNS:
        out, train_s = ensure_run(data, model, Path(args.runs), args.retrain)
        torch.set_num_threads(args.threads)
        cpu0 = time.process_time()
        doc = evaluate(out, n=args.n)
        doc["cpu_seconds"] = round(time.process_time() - cpu0, 1)
        cfg = ganforge.Run(out).config["config"]
        docs.append((data, model, cfg, train_s, doc))
        print(f"{data} {model}: FID {doc['metrics'][0]['value']:.3f} (floor {doc['metrics'][0]['floor']:.3f}) "
              f"in {doc['seconds']} s {doc['seconds_by_stage']}")
    lines = [f"Training on 1 thread, evaluation on {args.threads} threads (load average "
             f"{os.getloadavg()[0]:.1f} at the end; on a shared machine wall times are inflated, CPU "
             f"seconds are the process's own).", "",
             "Each run is trained at its dataset's defaults (`ganforge train DATA --model MODEL`), then "
             "`ganforge evaluate RUN -n 10000` (capped at half the real data). *floor* = two disjoint "
             "real halves scored the same way at the same n: what a perfect generator scores. Features: "
             "ganforge's shipped domain CNNs (see src/ganforge/weights/*.json), so the numbers compare "
             "runs with each other and with the floor, **not with published Inception FIDs**.", ""]
    head = "| metric | " + " | ".join(f"{d} {m} | floor" for d, m, *_ in docs) + " |"
    lines += [head, "|---" * (1 + 2 * len(docs)) + "|"]
    for key in SHOW:
        cells = []
        for *_, doc in docs:
            row = next((r for r in doc["metrics"] if r["metric"] == key), None)
            cells += [fmt(row["value"]), fmt(row["floor"])] if row else ["–", "–"]
        label = next((r["label"] for *_, d in docs for r in d["metrics"] if r["metric"] == key), key)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    mem = [d["memorisation"] for *_, d in docs]
    lines.append("| near-copy share (memorisation) | " + " | ".join(
        f"{m['near_copy_share']:.2%} | 1% by construction" for m in mem) + " |")
    lines += ["", "| run | steps | defaults | extractor | n gen = n real | train s (1 thread) | "
              "evaluate wall s (CPU s) | wall s: load / generate / features / metrics / memorisation |",
              "|---|---|---|---|---|---|---|---|"]
    for data, model, cfg, train_s, doc in docs:
        st = doc["seconds_by_stage"]
        keys = {k: cfg[k] for k in ("steps", "batch_size", "channels", "z_dim", "loss", "lr_g", "lr_d",
                                    "spectral_norm", "ac_weight", "ema_decay") if k in cfg}
        lines.append(f"| {data} {model} | {doc['step']} | `{json.dumps(keys)}` | {doc['protocol']['extractor']} | "
                     f"{doc['protocol']['n_generated']:,} | {fmt(train_s) if train_s else 'reused'} | "
                     f"{doc['seconds']} ({doc['cpu_seconds']}) | {st.get('load_data')} / {st.get('generate')} / {st.get('features')} / "
                     f"{st.get('metrics')} / {st.get('memorisation')} |")
    for data, model, cfg, _, doc in docs:
        if doc.get("per_class"):
            lines += ["", f"Per-class, {data} {model} (accuracy: the extractor reads the asked-for class; "
                          f"real = its held-out accuracy; coverage k=5 vs that class's real half A):", "",
                      "| class | " + " | ".join(str(c["name"]) for c in doc["per_class"]) + " |",
                      "|---" * (1 + len(doc["per_class"])) + "|",
                      "| accuracy | " + " | ".join(fmt(c["accuracy"]) for c in doc["per_class"]) + " |",
                      "| real accuracy | " + " | ".join(fmt(c["real_heldout_accuracy"]) for c in doc["per_class"]) + " |",
                      "| coverage | " + " | ".join(fmt(c["coverage"]) for c in doc["per_class"]) + " |",
                      "| coverage floor | " + " | ".join(fmt(c["coverage_floor"]) for c in doc["per_class"]) + " |"]
    lines += ["", "Protocols (from metrics.json):", ""]
    for data, model, _, _, doc in docs:
        p = doc["protocol"]
        lines.append(f"- {data} {model}: {p['extractor_info']}; real split: {p['real_split']}; "
                     f"memorisation reference: {doc['memorisation']['reference']}.")
    print("\n".join(lines))
    write_result("evaluation", "Evaluation benchmark", "\n".join(lines), prov)


if __name__ == "__main__":
    main()
