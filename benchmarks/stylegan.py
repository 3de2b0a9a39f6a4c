"""StyleGAN-lite and small-data benchmark, on one CPU thread per run, at equal CPU time.

    .venv/bin/python benchmarks/stylegan.py [--part tune|heldout|small|all] [--budget 180] [-n 2000]

- tune (mnist5k, the tuning set): dcgan at its defaults and stylegan in a few settings, each
  trained for the same CPU seconds; `ganforge evaluate` (FID/KID/P/R/coverage with the
  real-vs-real floor). The best stylegan setting (lowest FID) goes on to:
- heldout (fashion-mnist, never tuned on): dcgan vs that stylegan at the same CPU time; for
  stylegan also truncation (psi 1 / 0.7 / 0.5: precision and recall) and style mixing (how
  often the extractor's classifier gives a mix the class of its coarse-style source).
- small (fashion-mnist subsets, --sizes 100 1000 6000, --seeds, --model dcgan): --augment off,
  diffaug and ada at the same CPU time, scored against the full 10k test split (FID/KID/P/R,
  floor = as many real training images outside the subset), the near-copy share against the
  subset (reference: the test split), and the leak statistics (metrics/leak.py). Also
  `ganforge evaluate` on the subset itself (its floor is large: n = half the subset).

Runs are stopped by a callback when the training process has used --budget CPU seconds, so
the machine's other load changes wall time, not the comparison. Appends one JSON record per
part to benchmarks/results/stylegan.jsonl (date, commit, machine) and rewrites stylegan.md
from the latest record of each part.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from _record import RESULTS, ROOT, provenance, write_result

import ganforge
from ganforge.data import load_dataset
from ganforge.engine.loop import StopTraining
from ganforge.metrics.evaluate import core_metrics, evaluate, real_halves, run_dataset

STYLE_TUNE = {  # stylegan settings tried on the tuning set (unconditional, like dcgan)
    "stylegan": {},
    "stylegan_r1x10": {"r1_gamma": 0.05},
    "stylegan_c16": {"channels": 16},
}
SHOW = ("fid", "kid", "precision", "recall", "coverage")
EVAL_THREADS = int(os.environ.get("OMP_NUM_THREADS") or 2)  # scoring threads: OMP_NUM_THREADS=1 keeps to one core


class CpuBudget:
    """Stop training (with a checkpoint) once this process has used `seconds` of CPU."""

    def __init__(self, seconds: float):
        self.seconds, self.t0 = seconds, time.process_time()

    def __call__(self, trainer, record):
        if time.process_time() - self.t0 > self.seconds:
            raise StopTraining()


def train(data: str, out: Path, budget: float, **opts) -> dict:
    if (out / "checkpoint.safetensors").exists():  # reuse: a benchmark never deletes a folder
        run = ganforge.Run(out)
        return {"run": str(out), "steps": run.step, "cpu_s": None, "reused": True}
    torch.set_num_threads(1)
    t0 = time.process_time()
    run = ganforge.train(data, out=out, steps=10**7, log_every=25, sample_every=10**9, ckpt_every=10**9,
                         threads=1, progress=False, callbacks=[CpuBudget(budget)], **opts)
    return {"run": str(out), "steps": run.step, "cpu_s": round(time.process_time() - t0, 1)}


def metrics_of(doc: dict) -> dict:
    return {r["metric"]: {"value": r["value"], "floor": r["floor"]} for r in doc["metrics"] if r["metric"] in SHOW}


def scored(run: dict, n: int, **kw) -> dict:
    torch.set_num_threads(EVAL_THREADS)
    doc = evaluate(run["run"], n=n, **kw)
    run.update(metrics=metrics_of(doc), near_copy=doc["memorisation"]["near_copy_share"],
               protocol=doc["protocol"]["real_split"], extractor=doc["protocol"]["extractor"])
    return run


def part_tune(args) -> dict:
    rows = {"dcgan": scored(train("mnist5k", args.runs / "tune-dcgan", args.budget, model="dcgan"), args.n)}
    for name, extra in STYLE_TUNE.items():
        rows[name] = scored(train("mnist5k", args.runs / f"tune-{name}", args.budget, model="stylegan",
                                  conditional=False, **extra), args.n)
    best = min(STYLE_TUNE, key=lambda k: rows[k]["metrics"]["fid"]["value"])
    return {"data": "mnist5k", "rows": rows, "best_stylegan": best, "settings": STYLE_TUNE[best]}


def truncation_curve(run_dir: str, n: int, psis=(1.0, 0.7, 0.5)) -> list[dict]:
    from ganforge.metrics import extractors
    gen = ganforge.load(run_dir)
    data = run_dataset(ganforge.Run(run_dir).dir)
    ext = extractors.choose(data, Path(run_dir))
    (xa, _, xb, _), n, _ = real_halves(data, n)
    fa, fb = ext(xa)[0], ext(xb)[0]
    out = []
    for psi in psis:
        xg, _ = gen.sample_tensor(n, seed=1, truncation=psi)
        m = core_metrics(fa, fb, ext(((xg.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1)[0], kid_subsets=20)
        out.append({"psi": psi, **{k: m[k][0] for k in ("fid", "precision", "recall")}})
    return out


def mixing_classes(run_dir: str, k: int = 20) -> dict:
    """Share of mixes the extractor classifies as their coarse source's class (and the fine
    source's), over pairs whose sources it puts in different classes."""
    from ganforge.artifacts.style import style_mix
    from ganforge.metrics import extractors
    gen = ganforge.load(run_dir)
    ext = extractors.choose(run_dataset(ganforge.Run(run_dir).dir), Path(run_dir))
    res = style_mix(gen, list(range(k)), list(range(1000, 1000 + k)))
    ca, cb = ext(res["coarse"])[1].argmax(1), ext(res["fine"])[1].argmax(1)
    cm = ext(res["cells"].flatten(0, 1))[1].argmax(1).reshape(k, k)
    differ = ca[:, None] != cb[None, :]
    return {"pairs": int(differ.sum()), "crossover": res["crossover"], "n_ws": res["n_ws"],
            "coarse_class": float((cm == ca[:, None])[differ].mean()),
            "fine_class": float((cm == cb[None, :])[differ].mean())}


def part_heldout(args, tuned: dict | None) -> dict:
    """`tuned`: the latest tune record; its best setting is the stylegan trained here."""
    settings = tuned["result"]["settings"] if tuned else {}
    rows = {"dcgan": scored(train("fashion-mnist", args.runs / "held-dcgan", args.budget, model="dcgan"), args.n),
            "stylegan": scored(train("fashion-mnist", args.runs / "held-stylegan", args.budget, model="stylegan",
                                     conditional=False, **settings), args.n)}
    torch.set_num_threads(EVAL_THREADS)
    style = rows["stylegan"]["run"]
    source = {k: tuned[k] for k in ("date", "commit", "budget_s")} | {"best": tuned["result"]["best_stylegan"]} \
        if tuned else None
    return {"data": "fashion-mnist", "settings": settings, "tuned_from": source, "rows": rows,
            "truncation": truncation_curve(style, args.n), "mixing": mixing_classes(style)}


def subset(size: int, seed: int, folder: Path) -> tuple[Path, torch.Tensor]:
    """A seeded random subset of Fashion-MNIST train as an .npz; also the train indices outside it."""
    from ganforge.data.builtin import load
    x = load("fashion-mnist").x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    path = folder / f"fashion{size}-s{seed}.npz"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        imgs = ((x[perm[:size], 0] + 1) * 127.5).round().to(torch.uint8).numpy()
        np.savez(path, images=imgs)
    return path, perm[size:]


def against_test(run_dir: str, outside: torch.Tensor, train_x: torch.Tensor, n: int) -> dict:
    """FID/KID/P/R/coverage vs the test split (floor: n real train images outside the subset),
    the near-copy share against the subset, and the leak statistics."""
    from ganforge.data.builtin import load
    from ganforge.metrics.extractors import load_builtin
    from ganforge.metrics.leak import leak_check
    from ganforge.metrics.memorisation import memorisation
    test, full = load("fashion-mnist", "test").x, load("fashion-mnist").x
    gen = ganforge.load(run_dir)
    xg, _ = gen.sample_tensor(n, seed=1)
    xg = ((xg.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
    ext = load_builtin("fashion-cnn")
    m = core_metrics(ext(test[:n])[0], ext(full[outside[:n]])[0], ext(xg)[0], kid_subsets=20)
    mem = memorisation(train_x, xg[:1000], (test, "Fashion-MNIST test split"))
    leak = leak_check(train_x[:n], xg)
    return {"metrics": {k: {"value": m[k][0], "floor": m[k][1]} for k in SHOW},
            "near_copy": mem["near_copy_share"], "leak": leak["rows"]}


def part_small(args) -> dict:
    """Each subset size x augment arm x seed: one run at the same CPU budget. The subset, the
    training and the generated sample all follow the seed."""
    rows = {}
    for seed in args.seeds:
        for size in args.sizes:
            path, outside = subset(size, seed, args.runs / "subsets")
            train_x = load_dataset(str(path)).x
            for arm in args.arms:
                run = train(str(path), args.runs / f"small{size}-{arm}-{args.model}-s{seed}", args.budget,
                            model=args.model, augment=arm, seed=seed)
                torch.set_num_threads(EVAL_THREADS)
                doc = evaluate(run["run"], n=args.n, extractor="fashion-cnn")
                run.update(size=size, arm=arm, seed=seed, own_evaluate=metrics_of(doc),
                           test=against_test(run["run"], outside, train_x, args.n),
                           aug_p=ganforge.Run(run["run"]).log[-1].get("aug_p"))
                rows[f"{size}-{arm}-s{seed}"] = run
                print(f"small {size} {arm} seed {seed}: FID vs test {run['test']['metrics']['fid']['value']:.2f} "
                      f"near-copy {run['test']['near_copy']:.3f}", flush=True)
    return {"data": f"fashion-mnist subsets, {args.model}", "model": args.model, "rows": rows}


SMALL_GOALS = {100: 0.35, 1000: 0.35, 6000: 0.15}  # FID reduction asked of augmentation, by subset size


def small_summary(rows: dict) -> list[str]:
    """Mean FID vs test per subset size and arm over the seeds measured, the reduction against
    --augment off on the same seeds, and the goals."""
    by = {}
    for r in rows.values():
        by.setdefault((r["size"], r["arm"]), {})[r["seed"]] = r
    sizes = sorted({s for s, _ in by})
    lines = ["| subset | augment | seeds | FID vs test, mean (sd) | vs off | recall | coverage | near-copy | "
             "blank-block share (real) |", "|---" * 9 + "|"]
    goals = ["Goals (FID reduction of the better augment arm against off, on the same seeds):", ""]
    for size in sizes:
        off = by.get((size, "off"), {})
        best = None
        for arm in ("off", "diffaug", "ada"):
            runs = by.get((size, arm))
            if not runs:
                continue
            fid = np.array([r["test"]["metrics"]["fid"]["value"] for r in runs.values()])
            same = [s for s in runs if s in off]
            gain = (1 - np.mean([runs[s]["test"]["metrics"]["fid"]["value"] for s in same])
                    / np.mean([off[s]["test"]["metrics"]["fid"]["value"] for s in same])) if same and arm != "off" else None
            mean = lambda k: np.mean([r["test"]["metrics"][k]["value"] for r in runs.values()])  # noqa: E731
            blank = [x for r in runs.values() for x in r["test"]["leak"] if "blank" in x["label"]]
            leak = (f"{np.mean([x['generated'] for x in blank]):.4f} ({np.mean([x['real'] for x in blank]):.4f})"
                    if blank else "–")
            lines.append(f"| {size:,} | {arm} | {','.join(map(str, sorted(runs)))} | {fid.mean():.1f} ({fid.std():.1f}) | "
                         f"{'–' if gain is None else f'{-gain:+.0%}'} | {mean('recall'):.3f} | {mean('coverage'):.3f} | "
                         f"{np.mean([r['test']['near_copy'] for r in runs.values()]):.2%} | {leak} |")
            if gain is not None and (best is None or gain > best[1]):
                best = (arm, gain, len(same))
        if size in SMALL_GOALS and best:
            ok = best[1] >= SMALL_GOALS[size]
            goals.append(f"- {size:,} images: {best[0]} lowers FID by {best[1]:.0%} over {best[2]} seed(s) "
                         f"(goal: at least {SMALL_GOALS[size]:.0%}): {'met' if ok else 'not met'}")
    return lines + [""] + (goals if len(goals) > 2 else [])


def fmt(v) -> str:
    return "–" if v is None else str(v) if isinstance(v, int) else f"{v:.4g}"


PART_ORDER = ("tune", "heldout", "small")


def heldout_goals(res: dict) -> list[str]:
    """The goals of the held-out comparison, read from its numbers."""
    rows, trunc = res["rows"], {t["psi"]: t for t in res["truncation"]}
    fid_s, fid_d = (rows[k]["metrics"]["fid"]["value"] for k in ("stylegan", "dcgan"))
    recall = rows["stylegan"]["metrics"]["recall"]["value"]
    gain = trunc[0.5]["precision"] - trunc[1.0]["precision"]
    mix = res["mixing"]["coarse_class"]
    met = lambda ok: "met" if ok else "not met"  # noqa: E731
    return ["Goals, read from the numbers above:", "",
            f"- FID {1 - fid_s / fid_d:.0%} lower than dcgan's (goal: at least 30%): {met(fid_s <= 0.7 * fid_d)}",
            f"- recall {recall:.3f} (goal: at least 0.6): {met(recall >= 0.6)}",
            f"- truncation psi 0.5 raises precision by {gain:+.3f} over psi 1.0 (goal: +0.10): {met(gain >= 0.10)}",
            f"- style mixing keeps the coarse source's class {mix:.1%} of the time (goal: 80%): {met(mix >= 0.8)}"]


def render(records: dict) -> str:
    lines = ["Every run trains on 1 thread until its process has used the same CPU seconds (its own CPU "
             "time, so other load on the shared machine changes wall time, not the comparison). Features: "
             "ganforge's own domain CNNs (not comparable with published Inception FIDs); *floor* = real "
             "data scored the same way at the same n.", ""]
    for (part, *_), rec in records.items():
        budget = f" ({rec['budget_s'] / 60:g} CPU minutes per run)" if part in ("heldout", "small") else ""
        lines += [f"## {part}: {rec['result'].get('data', '')}{budget}", "",
                  f"Measured {'; '.join(rec.get('measured') or [rec['date'] + ' at commit ' + rec['commit']])} "
                  f"on {rec['machine']}; budget {rec['budget_s']} "
                  f"CPU s per run, n = {rec['n']}, load average {rec.get('load_average', rec.get('load'))}. "
                  f"Re-run: `{rec.get('command', 'python benchmarks/stylegan.py --part ' + part)}`", ""]
        res = rec["result"]
        if part in ("tune", "heldout"):
            lines += ["| run | steps | " + " | ".join(f"{k} | floor" for k in SHOW) + " | near-copy |",
                      "|---" * (3 + 2 * len(SHOW)) + "|"]
            for name, r in res["rows"].items():
                cells = " | ".join(f"{fmt(r['metrics'][k]['value'])} | {fmt(r['metrics'][k]['floor'])}" for k in SHOW)
                lines.append(f"| {name} | {r['steps']} | {cells} | {r['near_copy']:.2%} |")
            if part == "tune":
                lines += ["", f"Settings tried: `{json.dumps(STYLE_TUNE)}`; best by FID: {res['best_stylegan']}."]
            else:
                src = res.get("tuned_from")
                lines += ["", f"stylegan = `{json.dumps(res['settings'])}` on top of its defaults"
                          + (f" ({src['best']}, the best of the tune part measured {src['date']} at {src['commit']})."
                             if src else " (no tune record: defaults).")]
                lines += ["", "Truncation (stylegan, same real halves and extractor):", "",
                          "| psi | FID | precision | recall |", "|---|---|---|---|"]
                lines += [f"| {t['psi']} | {fmt(t['fid'])} | {fmt(t['precision'])} | {fmt(t['recall'])} |"
                          for t in res["truncation"]]
                mx = res["mixing"]
                lines += ["", f"Style mixing: layers 0-{mx['crossover'] - 1} of {mx['n_ws']} from the coarse source; "
                              f"over {mx['pairs']} pairs whose sources the classifier puts in different classes, "
                              f"the mix has the coarse source's class {mx['coarse_class']:.1%} of the time, the fine "
                              f"source's {mx['fine_class']:.1%}."]
                lines += ["", *heldout_goals(res)]
        else:
            if all("seed" in r for r in res["rows"].values()):
                lines += [*small_summary(res["rows"]), "", "Every run:", ""]
            lines += ["| subset-augment | steps | final p | " + " | ".join(f"{k} vs test | floor" for k in SHOW)
                      + " | near-copy | own evaluate FID (floor) |", "|---" * (5 + 2 * len(SHOW)) + "|"]
            for name, r in res["rows"].items():
                t = r["test"]["metrics"]
                cells = " | ".join(f"{fmt(t[k]['value'])} | {fmt(t[k]['floor'])}" for k in SHOW)
                own = r["own_evaluate"]["fid"]
                lines.append(f"| {name} | {r['steps']} | {fmt(r['aug_p'])} | {cells} | {r['test']['near_copy']:.2%} | "
                             f"{fmt(own['value'])} ({fmt(own['floor'])}) |")
            lines += ["", "Leak statistics (metrics/leak.py): generated / real subset / real through DiffAugment; "
                          "position 0 = like real, 1 = like augmented:", "",
                      "| run | " + " | ".join(r["label"] for r in next(iter(res["rows"].values()))["test"]["leak"]) + " |",
                      "|---" * 5 + "|"]
            for name, r in res["rows"].items():
                lines.append(f"| {name} | " + " | ".join(
                    f"{fmt(x['generated'])} / {fmt(x['real'])} / {fmt(x['augmented_real'])} ({fmt(x['position'])})"
                    for x in r["test"]["leak"]) + " |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("tune", "heldout", "small", "all"), default="all")
    ap.add_argument("--budget", type=float, default=180.0, help="CPU seconds of training per run")
    ap.add_argument("-n", type=int, default=2000, help="generated = real samples per metric")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-stylegan")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder for stylegan.jsonl and stylegan.md")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 6000], help="small part: subset sizes")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="small part: seeds (subset and training)")
    ap.add_argument("--arms", nargs="+", default=["off", "diffaug", "ada"], help="small part: --augment values")
    ap.add_argument("--model", default="dcgan", help="small part: the family trained on the subsets")
    ap.add_argument("--table", action="store_true", help="only re-render stylegan.md from stylegan.jsonl")
    args = ap.parse_args()
    log = args.results / "stylegan.jsonl"
    key = {**provenance(), "budget_s": args.budget, "n": args.n}
    parts = () if args.table else ("tune", "heldout", "small") if args.part == "all" else (args.part,)
    for part in parts:
        if part == "tune":
            res = part_tune(args)
        elif part == "heldout":
            tuned = [json.loads(x) for x in log.read_text().splitlines() if json.loads(x)["part"] == "tune"] \
                if log.exists() else []
            res = part_heldout(args, tuned[-1] if tuned else None)
        else:
            res = part_small(args)
        rec = {**key, "part": part, "result": res}
        with log.open("a") as f:
            f.write(json.dumps(rec) + "\n")
    latest = {}
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        # held-out comparisons at different budgets (e.g. 20 and 60 CPU minutes) each keep a section;
        # small-data records at one budget and model merge, so seeds can run as separate processes
        if rec["part"] == "small":
            key_ = ("small", rec["budget_s"], rec["result"].get("model", "dcgan"))
            if key_ in latest and all("seed" in r for r in rec["result"]["rows"].values()):
                prev = latest[key_]
                merged = {**prev["result"]["rows"], **rec["result"]["rows"]}
                when = [*prev.get("measured", [f"{prev['date']} at commit {prev['commit']}"]),
                        f"{rec['date']} at commit {rec['commit']}"]
                commands = [*prev.get("commands", [prev["command"]]), rec["command"]]
                rec = {**rec, "result": {**rec["result"], "rows": merged}, "measured": list(dict.fromkeys(when)),
                       "commands": list(dict.fromkeys(commands)), "command": " and ".join(dict.fromkeys(commands))}
            latest[key_] = rec
            continue
        latest[(rec["part"], rec["budget_s"] if rec["part"] == "heldout" else None)] = rec
    latest = dict(sorted(latest.items(), key=lambda kv: (PART_ORDER.index(kv[0][0]), kv[0][1] or 0, kv[0][2:])))
    prov = {**key, "summary": "Each part below says when, where and at which commit it was measured."}
    write_result("stylegan", "StyleGAN-lite and small-data benchmark (benchmarks/stylegan.py)", render(latest), prov,
                 path=args.results / "stylegan.md", keep_history=False)


if __name__ == "__main__":
    main()
