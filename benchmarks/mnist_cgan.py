"""mnist5k conditional GAN at its defaults: speed and label control.

Protocol: `ganforge.train("mnist5k", model="cgan", seed=s)` with no other options (the defaults a
user gets from `ganforge train mnist5k --model cgan`), with ganforge's automatic thread count
(all cores for conv nets) unless --threads or OMP_NUM_THREADS says otherwise. A DigitCNN
(ganforge.metrics.classifier) trained on a stratified 80% of the real mnist5k digits reads the
labels of 10,000 generated digits (1,000 asked per class, sampling seed 0). Reported: wall time and steps/s of training (plus process CPU time and the load
average, since this machine is shared), the classifier's accuracy on the 1,000 held-out real
digits, the share of generated digits classified as the label they were asked for (overall and
for the worst class), and how uniform the classifier's histogram of generated digits is
(largest / smallest class share, and the chi-square p-value against uniform).

    python benchmarks/mnist_cgan.py                  # seed 0
    python benchmarks/mnist_cgan.py --seeds 0 1 2    # more seeds, plus their mean
    python benchmarks/mnist_cgan.py --precision auto fp32   # the fast default beside fp32
Writes benchmarks/results/mnist_cgan.md and docs/images/mnist5k_cgan.png (seed 0 samples,
one row per class).
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import chisquare

import ganforge
from _record import provenance, write_result
from ganforge.metrics.classifier import PROTOCOL, predict, train_digit_classifier

ROOT = Path(__file__).resolve().parents[1]
PER_CLASS = 1000


def label_control(gen, clf) -> dict:
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    x, asked = gen.sample_tensor(len(labels), labels=labels, seed=0)
    got, asked = predict(clf, x), asked.numpy()
    per_class = np.array([(got[asked == c] == c).mean() for c in range(10)])
    counts = np.bincount(got, minlength=10)
    return {"acc": float((got == asked).mean()), "min_class_acc": float(per_class.min()),
            "worst_class": int(per_class.argmin()),
            "max_min_share": float(counts.max() / max(counts.min(), 1)),
            "chi2_p": float(chisquare(counts).pvalue)}


def train_one(seed: int, out: Path, threads: int | None, precision: str) -> dict:
    cpu0, t0, load0 = time.process_time(), time.time(), os.getloadavg()[0]
    run = ganforge.train("mnist5k", model="cgan", out=out, seed=seed, progress=False, threads=threads,
                         precision=precision)
    wall, cpu = time.time() - t0, time.process_time() - cpu0
    used = run.config.get("precision") or precision  # what `auto` resolved to
    return {"seed": seed, "run": run, "precision": used if precision != "auto" else f"auto = {used}", "wall_s": wall, "cpu_s": cpu, "steps": run.step,
            "steps_per_s": run.step / wall, "load": (load0 + os.getloadavg()[0]) / 2,
            "threads": torch.get_num_threads()}


def table(rows: list[dict], clf_acc: float) -> str:
    cols = ["precision", "seed", "steps", "wall s", "steps/s", "CPU s", "load avg", "classifier acc (real held-out)",
            "label acc (10k generated)", "worst class acc", "class share max/min", "chi-square p"]
    fmt = ("| {precision} | {seed} | {steps:.0f} | {wall_s:.0f} | {steps_per_s:.2f} | {cpu_s:.0f} | {load:.1f} | "
           "{clf:.1%} | {acc:.2%} | {min_class_acc:.1%}{worst} | {max_min_share:.2f} | {chi2_p:.2g} |")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append(fmt.format(clf=clf_acc, worst=f" (digit {r['worst_class']})", **r))
    keys = ("steps", "wall_s", "steps_per_s", "cpu_s", "load", "acc", "min_class_acc",
            "max_min_share", "chi2_p")
    for prec in dict.fromkeys(r["precision"] for r in rows):
        group = [r for r in rows if r["precision"] == prec]
        if len(group) > 1:
            mean = {k: float(np.mean([r[k] for r in group])) for k in keys}
            lines.append(fmt.format(clf=clf_acc, seed="mean", worst="", precision=prec, **mean))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, help="torch threads (default: ganforge's auto choice, "
                    "= the cores for conv nets, as `ganforge train` does)")
    ap.add_argument("--precision", nargs="+", default=["auto"], choices=("auto", "fp32", "bf16"),
                    help="one set of runs per precision (default: auto, what a user gets)")
    ap.add_argument("--md", default=str(ROOT / "benchmarks/results/mnist_cgan.md"))
    ap.add_argument("--image", default=str(ROOT / "docs/images/mnist5k_cgan.png"))
    args = ap.parse_args()
    prov = provenance()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for prec in args.precision:
            for seed in args.seeds:
                r = train_one(seed, Path(tmp) / f"{prec}_seed{seed}", args.threads, prec)
                print(f"{r['precision']} seed {seed}: {r['steps']} steps in {r['wall_s']:.0f} s", flush=True)
                rows.append(r)
        t0 = time.time()
        clf, clf_acc = train_digit_classifier(seed=0)
        print(f"classifier: {clf_acc:.1%} on held-out real digits ({time.time() - t0:.0f} s)", flush=True)
        for r in rows:
            gen = r["run"].generator()
            r.update(label_control(gen, clf))
            if r is rows[0]:
                Path(args.image).parent.mkdir(parents=True, exist_ok=True)
                Path(args.image).write_bytes(gen.preview_png(n=120, seed=0))
        cfg = rows[0]["run"].config["config"]
    settings = ", ".join(f"{k}={cfg[k]}" for k in ("steps", "batch_size", "channels", "z_dim", "loss",
                                                   "spectral_norm", "ac_weight", "lr_g", "lr_d",
                                                   "betas", "ema_decay"))
    md = (f"{table(rows, clf_acc)}\n\n"
          f"Defaults: {settings}.\n\nMachine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, {rows[0]['threads']} torch threads in training; "
          f"load avg = mean of the 1-min load average before and after training (shared machine: "
          f"> {os.cpu_count()} means other jobs competed for the CPU, so wall time is pessimistic).\n\n"
          f"Classifier protocol: {PROTOCOL}. Label acc: share of 10,000 generated digits "
          f"({PER_CLASS} asked per class, sampling seed 0) that the classifier reads as the asked "
          f"label. Class share max/min and chi-square p: the classifier's histogram of the generated "
          f"digits vs uniform.\n\nRe-run: `python benchmarks/mnist_cgan.py [--seeds 0 1 2]`.\n")
    print(md)
    write_result("mnist_cgan", "mnist5k cgan at defaults", md, prov, Path(args.md))


if __name__ == "__main__":
    main()
