"""Fault-injection benchmark for the training health monitor (issue 6).

Broken runs made on purpose, and healthy runs at defaults; each case is trained with
`--on-problem warn` (detection) and, for fixable faults, `--on-problem fix` (rescue). Prints a
table: detected yes/no, the finding, steps from onset to detection, problem-level false alarms
on healthy runs, and for `fix` the final status and mode count / diversity. Where FROM_START
names a case, a third run trains the broken options with the fix's changes from step 0: what
the user would have got with those settings all along, the fair target for a fix.

    OMP_NUM_THREADS=1 python benchmarks/monitor.py                 # every case (slow on CPU)
    OMP_NUM_THREADS=1 python benchmarks/monitor.py --cases lr_high nan --scale 0.5
    OMP_NUM_THREADS=1 python benchmarks/monitor.py --cases minimax_grid25 --modes fix "from-start, z_dim 2"
    python benchmarks/monitor.py --threads 2 --cases healthy_tabular healthy_srgan   # other families

Results append to benchmarks/results/monitor.jsonl (one JSON line per run, stamped with its
date, commit and machine); benchmarks/results/monitor.md, the table the docs quote, is rendered
from it after every run (the latest row of each case and run; `--table` renders it alone).
Rows written before stamping are keyed by the commit that added them (git blame).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ganforge
from _record import ROOT, provenance, write_result
from ganforge.data import load_dataset
from ganforge.io.errors import GanforgeError
from ganforge.io.rundir import RunDir
from ganforge.metrics.modes import mode_stats


class InjectNaN:
    """Turns G's first-weight gradient NaN once, during the update that reaches `step`."""

    def __init__(self, step):
        self.step, self.done, self.hooked = step, False, False

    def __call__(self, trainer, record):
        if self.hooked:
            return
        self.hooked = True
        p = next(trainer.family.nets["G"].parameters())

        def hook(g):
            if trainer.step == self.step - 1 and not self.done:
                self.done = True
                return g * float("nan")
            return g
        p.register_hook(hook)


def tiny_digits(path: Path, n: int = 32) -> str:
    ds = load_dataset("digits")
    np.savez(path, images=((ds.x[:n].numpy() + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1))
    return str(path)


LOGS = "benchmarks/results/monitor_logs"


def memorisation_onset(log: list[dict], rate: float = 0.01) -> int | None:
    """A gradual fault's onset: the first near-copy check from which the share stays above the
    fresh-sample rate (1%) for the rest of the run (single-check blips above it do not count)."""
    checks = [(r["step"], r["near_copy"]) for r in log if "near_copy" in r]
    onset = None
    for step, share in checks:
        if share <= rate:
            onset = None
        elif onset is None:
            onset = step
    return onset

# What a fixed run is compared with: the broken options plus the fix's changes from step 0
# (a fault present from the start rolls back to step 0, so `fix` should match this run), and
# the same with a setting no fix changes mid-run (the latent size), to show what is left.
_COLLAPSE_FIX = dict(loss="ns", r1_gamma=0.01, lr_d=1e-3, ema_decay=0.999)
FROM_START = {
    "minimax_grid25": {"from-start": _COLLAPSE_FIX, "from-start, z_dim 2": dict(_COLLAPSE_FIX, z_dim=2)},
}

# name: (data, options, fault onset step, expected finding, try fix?)
CASES = {
    "lr_high": ("ring8", dict(steps=1000, lr=0.05), 0, "divergence", True),
    # unregularised minimax, 16-D latent, and a G learning 10x faster than D: 1-2 of 25 modes
    "minimax_grid25": ("grid25", dict(steps=3000, loss="minimax", lr_decay=False, r1_gamma=0.0, ema_decay=0.0,
                                      z_dim=16, lr_g=1e-3, lr_d=1e-4, batch_size=512), 0, "mode_collapse", True),
    "strong_d": ("ring8", dict(steps=1000, lr_g=1e-5, lr_d=2e-3, n_critic=5), 0, "d_overpowering", True),
    "nan": ("ring8", dict(steps=1000), 400, "nan", True),
    # onset: from the run's own log, the check from which the near-copy share stays above 1%
    "tiny_data": ("TINY", dict(model="dcgan", steps=3000, log_every=25, batch_size=32), None, "memorisation", False),
    "healthy_ring8": ("ring8", {}, None, None, False),
    "healthy_grid25": ("grid25", {}, None, None, False),
    "healthy_digits": ("digits", {}, None, None, False),
    # every other family at its defaults on its built-in data (cyclegan: 1.5 s a step here, so
    # its first 300 steps only, logged every 25)
    "healthy_tabular": ("TABLE:fair", {}, None, None, False),
    "healthy_digits_cgan": ("digits", dict(model="cgan"), None, None, False),
    "healthy_mnist5k": ("mnist5k", {}, None, None, False),
    "healthy_mnist5k_vanilla": ("mnist5k", dict(model="vanilla"), None, None, False),
    "healthy_colorize": ("photos", dict(model="colorize"), None, None, False),
    "healthy_pix2pix": ("photos-pairs", dict(model="pix2pix"), None, None, False),
    "healthy_srgan": ("photos", dict(model="srgan"), None, None, False),
    "healthy_inpaint": ("photos", dict(model="inpaint"), None, None, False),
    "healthy_lapgan": ("mnist5k", dict(model="lapgan"), None, None, False),
    "healthy_cyclegan": ("photos-pairs", dict(model="cyclegan", steps=300, log_every=25), None, None, False),
}

CASE_NOTES = {  # what each broken case is, for the results table
    "lr_high": "ring8 at lr 0.05 (50x its default)",
    "minimax_grid25": "unregularised minimax on grid25, 16-D latent, no EMA, G's lr 10x D's",
    "strong_d": "ring8 with lr_D 2e-3, lr_G 1e-5 and 5 D steps per G step",
    "nan": "a NaN injected into G's gradient at step 430",
    "tiny_data": "DCGAN on 32 digits for 3,000 steps (onset: the check from which the near-copy share stays above 1%)",
}


def final_quality(run_dir: Path, data: str) -> dict:
    gen = ganforge.load(run_dir)
    if data in ("ring8", "grid25"):
        ds = load_dataset(data)
        x, _ = gen.sample_tensor(2500, seed=1)
        ms = mode_stats(x.numpy(), np.array(ds.info["means"]), ds.info["sd"])
        return {"modes": f"{ms['modes']}/{ms['of_modes']}", "hq": round(ms["high_quality"], 3)}
    return {}


def run_case(name: str, mode: str, scale: float, tmp: Path) -> dict:
    data, opts, onset, expect, _ = CASES[name]
    opts, label = dict(opts), mode
    if mode.startswith("from-start"):  # the fix's settings from step 0, monitored only
        opts.update(FROM_START[name][mode])
        mode, expect = "warn", None
    if "steps" in opts:
        opts["steps"] = max(200, int(opts["steps"] * scale))
    if name == "nan":  # inject at 40% of the run, on a non-log step
        onset = int(0.4 * opts["steps"]) // 50 * 50 + 30
    if data == "TINY":
        data = tiny_digits(tmp / "tiny_digits.npz")
    callbacks = [InjectNaN(onset)] if name == "nan" else []
    out = tmp / f"{name}-{label}".replace(", ", "-").replace(" ", "")
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    error = None
    try:
        if data.startswith("TABLE:"):  # `ganforge tabular fit` with its own defaults
            from ganforge.tabular import TabularGAN
            TabularGAN(progress=False, verbose=False, on_problem=mode).fit(data[6:], out=out, callbacks=callbacks)
            log = RunDir(out).read_log()
        else:
            run = ganforge.train(data, out=out, on_problem=mode, progress=False, callbacks=callbacks, **opts)
            log = run.log
    except GanforgeError as e:  # reported, not hidden
        error, log = str(e), RunDir(out).read_log()
    keep = Path(LOGS) / f"{out.name}.jsonl"  # the run folder is temporary; its log is kept
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text("".join(json.dumps(r) + "\n" for r in log))
    findings = [r for r in log if "finding" in r and "severity" in r]
    problems = [f for f in findings if f["severity"] == "problem"]
    hit = [f for f in findings if f["finding"] == expect] if expect else []
    if expect == "divergence":  # an exploding run may first show as NaN or as a dead (collapsed) G
        hit = hit or [f for f in findings if f["finding"] in ("nan", "mode_collapse", "d_overpowering")]
    first = hit[0] if hit else None
    if name == "tiny_data":
        onset = memorisation_onset(log)
    losses = [r for r in log if "d_loss" in r]
    res = {"case": name, "mode": label, "data": str(data) if not str(data).endswith(".npz") else "digits[:32] npz",
           "detected": bool(first) if expect else None,
           "finding": f"{first['finding']}/{first['severity']}" if first else "-",
           "detected_at": first["step"] if first else None,
           "onset": onset, "delay": (first["step"] - onset) if first and onset is not None else None,
           "false_problems": len(problems) if not expect else None,
           "warnings": sorted({f["finding"] for f in findings if f["severity"] == "warning"}),
           "fixes": [r["change"] for r in log if r.get("action") == "fix"],
           "stopped": [r["finding"] for r in log if r.get("action") == "stop"],
           "final_step": losses[-1]["step"] if losses else 0,
           "final_health": losses[-1].get("health") if losses else None,
           "error": error, "wall_s": round(time.time() - t0, 1)}
    if error is None and str(data) in ("ring8", "grid25"):
        res.update(final_quality(out, str(data)))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the broken runs' steps")
    ap.add_argument("--no-fix", action="store_true")
    ap.add_argument("--modes", nargs="*", help="only these runs of each case (warn, fix, from-start, ...)")
    ap.add_argument("--out", default="benchmarks/results/monitor.jsonl")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table", action="store_true", help="only render benchmarks/results/monitor.md from --out")
    args = ap.parse_args()
    if args.table:
        return render(Path(args.out))
    torch.set_num_threads(args.threads)
    prov = provenance()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in args.cases:
            modes = ["warn"] + (["fix"] if CASES[name][4] and not args.no_fix else [])
            modes += list(FROM_START.get(name, {})) if not args.no_fix else []
            modes = [m for m in modes if not args.modes or m in args.modes]
            for mode in modes:
                r = run_case(name, mode, args.scale, Path(d))
                r.update(measured=prov["date"], commit=prov["commit"], machine=prov["machine"],
                         command=prov["command"])
                rows.append(r)
                print(json.dumps(r), flush=True)
                with open(args.out, "a") as f:
                    f.write(json.dumps(r) + "\n")
    cols = ("case", "mode", "detected", "finding", "delay", "false_problems", "final_health", "modes", "hq", "fixes",
            "wall_s")
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    render(Path(args.out))


def _blame(path: Path) -> list[tuple[str, str]]:
    """(commit, date) that added each line of `path` (uncommitted lines: ("uncommitted", today))."""
    import subprocess
    out = subprocess.run(["git", "blame", "--line-porcelain", "--", str(path)], cwd=ROOT,
                         capture_output=True, text=True).stdout.splitlines()
    res, sha = [], None
    for line in out:
        if len(line) >= 40 and " " in line and all(c in "0123456789abcdef" for c in line.split()[0]) \
                and len(line.split()[0]) == 40:
            sha = line.split()[0]
        elif line.startswith("author-time ") and sha:
            res.append(("uncommitted" if set(sha) == {"0"} else sha[:7],
                        time.strftime("%Y-%m-%d", time.gmtime(int(line.split()[1])))))
    return res


def render(jsonl: Path) -> int:
    """benchmarks/results/monitor.md: the latest row of every (case, run), with where it came from."""
    lines = [x for x in jsonl.read_text().splitlines() if x.strip()]
    blame = _blame(jsonl)
    latest: dict = {}
    for i, line in enumerate(lines):
        r = json.loads(line)
        if "commit" not in r and i < len(blame):
            r["commit"], r["measured"] = blame[i]
            r["machine"] = "not recorded"
        latest[(r["case"], r["mode"])] = r
    head = ("| case | run | detected (finding) | onset -> detection step | problem alarms (healthy runs) "
            "| final step, status | final modes (HQ) | fixes applied | wall s | measured, commit |")
    out = [head, "|" + "---|" * 10]
    for r in latest.values():
        hq = f" ({r['hq']:.1%})" if r.get("hq") is not None else ""
        out.append(" | ".join([
            f"| {r['case']}", r["mode"],
            "-" if r["detected"] is None else f"{'yes' if r['detected'] else 'no'} ({r['finding']})",
            f"{r['onset']} -> {r['detected_at']}" if r.get("detected_at") is not None else "-",
            "-" if r.get("false_problems") is None else str(r["false_problems"]),
            f"{r['final_step']}, {r['final_health']}" + (f" (error: {r['error']})" if r.get("error") else ""),
            f"{r['modes']}{hq}" if r.get("modes") else "-",
            "; ".join(r["fixes"]) or "-", f"{r['wall_s']:.0f}", f"{r['measured']}, {r['commit']} |"]))
    machines = sorted({r["machine"] for r in latest.values()})
    body = ("Each broken run with `--on-problem warn` (detection) and, where a fix exists, `fix` (rescue); "
            "healthy runs at defaults count problem-level false alarms. Faults: " + "; ".join(
                f"`{k}` = {v}" for k, v in CASE_NOTES.items()) + ". Onset 0 = the fault is there from the "
            "start. Final modes / HQ: 2,500 default samples (sample filter on), PacGAN protocol.\n\n"
            "Machines: " + "; ".join(machines) + " (rows marked \"not recorded\" predate the stamp; their "
            "date and commit are those that added the row, from git blame).\n\n" + "\n".join(out))
    dates = sorted(r["measured"] for r in latest.values())
    prov = {"summary": f"Rows measured {dates[0][:10]} to {dates[-1][:10]}; each row's date and commit in its last column.",
            "command": "python benchmarks/monitor.py [--cases ...]   (--table: render this file only)"}
    write_result("monitor", "Training health monitor: fault injection", body, prov, keep_history=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
