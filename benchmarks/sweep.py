"""A short `ganforge sweep` against the defaults, on data seeds the defaults never saw.

grid25's recipe (data/registry.py) was measured with seeds 0-2 at 6,000 steps. Here every run
has --steps (default 800) and seed 7: `ganforge.sweep` searches vanilla's options by the
training-time coverage (k-NN density/coverage on the 2D points: it drops when modes are lost or
fakes leave the modes), trial 0 being the defaults themselves. Then the defaults and the best
trial's options are both trained again on an unseen seed (8) and all four runs are scored with the
PacGAN/VEEGAN protocol (benchmarks/mixtures.py: 2,500 samples, modes captured, high-quality share,
reverse KL; the sample filter on, as `sample()` does by default), so a best trial that was only
lucky on its seed shows. The issue asks a 60-minute sweep; this one is capped at --budget-minutes
(default 15, wall time) plus the two check runs, at most ~15 CPU-minutes on one thread (a trial
behind the median stops after the pruner's warm-up, a third of its steps, so usually less), on a
shared 2-core machine.

    python benchmarks/sweep.py                # grid25, seeds 7 (sweep) and 8 (check)
    python benchmarks/sweep.py --table        # only render sweep.md from sweep.jsonl
Rows go to benchmarks/results/sweep.jsonl; benchmarks/results/sweep.md is rendered from them.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import ganforge
from _record import RESULTS, provenance, write_result
from ganforge.data.mixtures import mixture_means
from ganforge.metrics.modes import mode_stats
from ganforge.sweep import sweep
from ganforge.sweep.space import as_options

JSONL = RESULTS / "sweep.jsonl"


def score(run_path: Path, data: str) -> dict:
    means, sd = mixture_means(data)
    st = mode_stats(ganforge.load(run_path).sample(2500, seed=0).samples, means.numpy(), sd)
    log = [json.loads(x) for x in (run_path / "log.jsonl").read_text().splitlines() if "eval_coverage" in x]
    return {"modes": st["modes"], "of": st["of_modes"], "hq": round(st["high_quality"], 4),
            "rkl": round(st["reverse_kl"], 4), "coverage": round(log[-1]["eval_coverage"], 4) if log else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="grid25")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check-seed", type=int, default=8)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--budget-minutes", type=float, default=15)
    ap.add_argument("--metric", default="coverage")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table", action="store_true", help="only render sweep.md from sweep.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prov = provenance()
    if not args.table:
        run(args, prov)
    body, sw = render()
    # the header says when and where the rows were measured (not when the table was rendered)
    prov = {**prov, "command": sw.get("command") or f"python benchmarks/sweep.py --steps {sw['steps']} "
                                                     f"--budget-minutes {sw['budget_minutes']:g}",
            "summary": f"Measured {sw['date']} at commit {sw['commit']} on {sw['machine']} "
                       f"(load average {sw['load_average']} at the start)."}
    write_result("sweep", "Sweep: a short Optuna search vs the defaults", body, prov, keep_history=False)


def run(args, prov: dict) -> None:
    fixed = {"threads": args.threads, "log_every": 50, "sample_every": args.steps, "ckpt_every": args.steps}
    cpu0, t0 = time.process_time(), time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        s = sweep(args.data, trials=args.trials, metric=args.metric, budget_minutes=args.budget_minutes,
                  steps=args.steps, eval_every=args.steps // 5, eval_n=1000, seed=args.seed, out=tmp / "sw",
                  options=fixed)
        sweep_wall, sweep_cpu = time.time() - t0, time.process_time() - cpu0
        best, defaults = s["best"], s["defaults"]
        rows = [{"case": "sweep", "trials": len(s["trials"]),
                 "complete": sum(r["state"] == "complete" for r in s["trials"]),
                 "pruned": sum(r["state"] == "pruned" for r in s["trials"]),
                 "best_trial": best["trial"], "best_params": best["params"], "space": s["spec"]["space"],
                 "wall_s": round(sweep_wall), "cpu_s": round(sweep_cpu), "budget_minutes": args.budget_minutes,
                 "steps": args.steps, "metric": args.metric, "data": args.data, "seed": args.seed,
                 "trial_values": [[r["trial"], r["state"], r["value"]] for r in s["trials"]]}]
        for name, trial in (("defaults", defaults), ("best", best)):
            rows.append({"case": name, "seed": args.seed, "trial": trial["trial"], "steps": args.steps,
                         "data": args.data, **score(tmp / "sw" / trial["run"], args.data)})
            if name == "best" and trial["trial"] == defaults["trial"]:  # the defaults won: same check run
                rows.append({**next(r for r in rows if r["case"] == "defaults" and r["seed"] == args.check_seed),
                             "case": "best"})
                continue
            opts = as_options(trial["params"])  # the same options, trained again on the unseen seed
            t = time.time()
            r = ganforge.train(args.data, out=tmp / f"check_{name}", steps=args.steps, seed=args.check_seed,
                               eval_every=args.steps // 5, eval_n=1000, progress=False, **fixed, **opts)
            rows.append({"case": name, "seed": args.check_seed, "trial": trial["trial"], "steps": args.steps,
                         "data": args.data, "wall_s": round(time.time() - t), **score(r.path, args.data)})
        total_cpu = time.process_time() - cpu0
    stamp = {k: prov[k] for k in ("date", "commit", "machine", "load_average", "command")}
    with open(JSONL, "a") as f:
        for row in rows:
            f.write(json.dumps({**row, **stamp, "total_cpu_s": round(total_cpu)}) + "\n")


def render() -> tuple[str, dict]:
    rows = [json.loads(x) for x in JSONL.read_text().splitlines() if x.strip()]
    last = max(r["date"] for r in rows)
    rows = [r for r in rows if r["date"] == last]  # the latest run
    sw = next(r for r in rows if r["case"] == "sweep")
    out = [f"{sw['data']}, vanilla, {sw['steps']} steps per run (the recipe's 6,000 were measured on seeds 0-2). "
           f"Sweep on seed {sw['seed']} by training-time {sw['metric']} (1,000 samples), capped at "
           f"{sw['budget_minutes']:g} minutes: {sw['trials']} trials, {sw['complete']} complete, {sw['pruned']} pruned; "
           f"{sw['wall_s'] / 60:.1f} min wall, {sw['cpu_s'] / 60:.1f} CPU-min (one thread); all runs together "
           f"{rows[0]['total_cpu_s'] / 60:.1f} CPU-min. The issue asks a 60-minute sweep; this one had "
           f"{sw['budget_minutes']:g}, on a shared 2-core machine (load average {sw['load_average']} at the start), "
           f"so it says what a short search finds, not what an hour would.", "",
           "Scored with the PacGAN/VEEGAN protocol (2,500 samples, sample filter on); seed "
           f"{sw['seed']} is the seed the sweep chose on, the other seed is a check the sweep never saw.", "",
           "| options | seed | modes | high-quality | reverse KL | training-time coverage |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        if r["case"] == "sweep":
            continue
        label = "defaults (trial 0)" if r["case"] == "defaults" else f"sweep best (trial {r['trial']})"
        out.append(f"| {label} | {r['seed']} | {r['modes']}/{r['of']} | {r['hq']:.3f} | {r['rkl']:.3f} | "
                   f"{r['coverage'] if r['coverage'] is not None else '–'} |")
    out += ["", "Best options: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in sw["best_params"].items()),
            "", f"Trials (number, state, {sw['metric']}; a pruned trial's at the evaluation where it was pruned): "
            + "; ".join(f"{n} {st}" + (f" {v:.3f}" if v is not None else "") for n, st, v in sw["trial_values"]),
            "", "The defaults are grid25's recipe for 6,000 steps (its learning rates decay to 0 over the run); "
                "at a fraction of that, options that move faster win on the sweep's seed. Read the check seed's "
                "rows for what carries over, and the reverse KL for what the coverage metric did not reward."]
    return "\n".join(out) + "\n", sw


if __name__ == "__main__":
    main()
