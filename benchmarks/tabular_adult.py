"""UCI Adult: ganforge TabularGAN (defaults) vs CTGAN 0.12.1 (defaults, 300 epochs), one run.

Protocol: ../shared/data/adult.csv (32,561 rows; column types from adult.json: categorical and
ordinal columns are discrete), 80/20 split with sklearn train_test_split(random_state=0).
Each synthesizer fits the 80% and samples as many rows; both are scored by
ganforge.metrics.table_evaluate against the 20% holdout (target 'income'). Fit time includes each
tool's column transform. With --with-ctgan both fit at the same time, one torch thread each,
so both see the same machine load. The holdout itself is scored too, as the "real data"
reference.

    python benchmarks/tabular_adult.py                 # ours only
    python benchmarks/tabular_adult.py --with-ctgan    # + CTGAN in .venv-ctgan (installed on demand)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _record import provenance, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CTGAN_VENV = ROOT / ".venv-ctgan"


def ensure_ctgan() -> Path:
    """CTGAN lives in its own venv: CPU torch first (else pip pulls a CUDA build), then ctgan."""
    py = CTGAN_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CTGAN_VENV)], check=True)
    ok = subprocess.run([str(py), "-c", "import ctgan"], capture_output=True).returncode == 0
    if not ok:
        pip = [str(CTGAN_VENV / "bin" / "pip"), "install", "-q"]
        subprocess.run(pip + ["torch==2.13.0"], check=True)
        subprocess.run(pip + ["ctgan==0.12.1"], check=True)
    return py


def start_ctgan(train, discrete, n, epochs, threads, tmp: str):
    """Start CTGAN in a subprocess (it runs while ours fits: both see the same machine load)."""
    py = ensure_ctgan()
    tr, dc, out = Path(tmp, "train.csv"), Path(tmp, "discrete.json"), Path(tmp, "synth.csv")
    train.to_csv(tr, index=False)
    dc.write_text(json.dumps(discrete))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [str(py), str(ROOT / "benchmarks" / "_ctgan_runner.py"), str(tr), str(dc), str(out), str(n), str(epochs)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env), out


def cached_ctgan(folder: Path, train) -> tuple:
    """CTGAN's output from a run started separately (same split): waits for it to finish."""
    import pandas as pd
    if not pd.read_csv(folder / "train.csv").equals(train):
        sys.exit(f"{folder}/train.csv is not this split's training table")
    while not (folder / "timings.json").stat().st_size:
        time.sleep(10)
    t = json.loads((folder / "timings.json").read_text().strip().splitlines()[-1])
    return pd.read_csv(folder / "synth.csv"), t["fit_s"], t["sample_s"], t.get("fit_cpu_s")


def finish_ctgan(proc, out) -> tuple:
    import pandas as pd
    stdout, stderr = proc.communicate()
    if proc.returncode:
        sys.exit(f"CTGAN failed:\n{stderr[-3000:]}")
    t = json.loads(stdout.strip().splitlines()[-1])
    return pd.read_csv(out), t["fit_s"], t["sample_s"], t.get("fit_cpu_s")


def row(name, r, fit_s, sample_s, reference=False):
    """One table row. The reference row (the holdout scored as if synthetic) shows the
    classifier trained on real training rows, and no MIA (it would be degenerate)."""
    q, m, p = r["quality"], r["ml_efficacy"], r["privacy"]
    ml = m["real"] if reference else m["synthetic"]
    fmt = lambda v: f"{v:.0f}" if v is not None else "-"
    mia = "-" if reference else f"{p['mia_auroc']:.3f}"
    return (f"| {name} | {q['quality']:.3f} | {q['column_shapes']:.3f} | {q['pair_trends']:.3f} | "
            f"{ml['f1']:.3f} | {ml['auroc']:.3f} | {p['dcr_synthetic_median']:.3f} | "
            f"{p['closer_than_holdout_p05']:.1%} | {p['exact_copies']:.2%} | {mia} | "
            f"{fmt(fit_s)} | {fmt(sample_s)} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--with-ctgan", action="store_true", help="also run CTGAN 0.12.1 (own venv)")
    ap.add_argument("--ctgan-epochs", type=int, default=300)
    ap.add_argument("--ctgan-cache", help="folder of a CTGAN run started by hand with _ctgan_runner.py "
                                          "(train.csv, timings.json, synth.csv): use its results")
    ap.add_argument("--epochs", type=int, default=None, help="ours (default: TabularGAN's default)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of each synthesizer")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tabular_adult.md"))
    args = ap.parse_args()
    prov = provenance()

    import pandas as pd
    import torch
    from sklearn.model_selection import train_test_split
    from ganforge.tabular import TabularGAN
    from ganforge.metrics.table_evaluate import evaluate

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    df = pd.read_csv(DATA / "adult.csv", skipinitialspace=True)
    types = json.loads((DATA / "adult.json").read_text())["columns"]
    discrete = [c["name"] for c in types if c["type"] in ("categorical", "ordinal")]
    train, hold = train_test_split(df, test_size=0.2, random_state=0)
    train, hold = train.reset_index(drop=True), hold.reset_index(drop=True)
    ev = lambda s: evaluate(train, s, hold, target="income", discrete=discrete)

    tmp = tempfile.mkdtemp(prefix="ganforge-ctgan-") if args.with_ctgan else None
    ctgan = start_ctgan(train, discrete, len(train), args.ctgan_epochs, args.threads, tmp) if args.with_ctgan else None
    kw = {"epochs": args.epochs} if args.epochs else {}
    model = TabularGAN(progress=False, verbose=False, **kw)
    t0, c0 = time.time(), time.process_time()
    model.fit(train, discrete_columns=discrete)
    fit_s, cpu = time.time() - t0, {"ours": time.process_time() - c0}
    t0 = time.time()
    synth = model.sample(len(train))
    sample_s = time.time() - t0
    keep = ROOT / "runs" / "bench_tabular_adult"  # synthetic tables kept for inspection (not committed)
    keep.mkdir(parents=True, exist_ok=True)
    synth.to_csv(keep / "ours_synth.csv", index=False)
    ours = ev(synth)
    lines = [row(f"ganforge TabularGAN ({model.params['epochs']} epochs)", ours, fit_s, sample_s)]
    print(lines[-1], flush=True)
    if ctgan or args.ctgan_cache:
        cs, cfit, csample, cpu["CTGAN"] = finish_ctgan(*ctgan) if ctgan else cached_ctgan(Path(args.ctgan_cache), train)
        cs.to_csv(keep / "ctgan_synth.csv", index=False)
        note = "" if args.ctgan_epochs == 300 else "; its default is 300"
        lines.append(row(f"CTGAN 0.12.1 ({args.ctgan_epochs} epochs{note})", ev(cs), cfit, csample))
        print(lines[-1], flush=True)
        if tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    lines.append(row("real holdout (reference; F1/AUROC: trained on real)", ev(hold), None, None, reference=True))
    real_ml = ours["ml_efficacy"]["real"]
    load1 = os.getloadavg()
    doc = [
        f"Command: `python benchmarks/tabular_adult.py{' --with-ctgan' if args.with_ctgan else ''}"
        f"{f' --ctgan-cache {args.ctgan_cache}' if args.ctgan_cache else ''}"
        f"{f' --ctgan-epochs {args.ctgan_epochs}' if args.ctgan_epochs != 300 else ''}"
        f"{f' --epochs {args.epochs}' if args.epochs else ''}` — {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}, "
        f"load average at start {load0[0]:.2f}, at end {load1[0]:.2f} (other jobs share the cores)"
        f"{'; CTGAN and ours fitted concurrently' if args.with_ctgan or args.ctgan_cache else ''}.", "",
        f"Data: adult.csv {len(df)} rows, 80/20 split seed 0 -> {len(train)} train / {len(hold)} holdout; "
        f"{len(train)} synthetic rows each. Classifier trained on real train rows: "
        f"F1 {real_ml['f1']:.3f}, AUROC {real_ml['auroc']:.3f}.", "",
        "| synthesizer | quality | shapes | pairs | F1 | AUROC | DCR median | closer than holdout p5 "
        "| exact copies | MIA AUROC | fit s | sample s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|", *lines, "",
        "Fit CPU seconds (process time of the fitting process, all its threads; less sensitive to "
        "other jobs than wall time): " + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items() if v) + ".", "",
        "Protocols:", f"- quality: {ours['quality']['protocol']}",
        f"- ML efficacy: {ours['ml_efficacy']['protocol']}", f"- privacy: {ours['privacy']['protocol']}",
        "- the reference row scores the real holdout as if it were synthetic (upper bound for "
        "quality; its DCR is the holdout's own distance to train)."]
    print("\n".join(doc))
    write_result("tabular_adult", "UCI Adult: ganforge TabularGAN vs CTGAN", "\n".join(doc), prov, Path(args.out))


if __name__ == "__main__":
    main()
