"""ring8 and grid25 at their defaults, scored with the PacGAN/VEEGAN protocol (GUIDE §5).

Protocol: `ganforge.train(data, seed=s)` with no other options (what `ganforge train ring8` and
`ganforge train grid25` do), ganforge's thread policy (the idle cores) unless --threads is given; then
`ganforge.load(run).sample(2500)` (sampling seed 0) and `ganforge.metrics.modes.mode_stats`:
a sample is high quality (HQ) if it lies within 3 sd of its nearest mode (ring8 sd 0.01,
grid25 sd 0.05); a mode is captured if it is the nearest mode of at least one HQ sample;
reverse KL is KL(mode histogram of the HQ samples || uniform). `sample()` at its default applies
the run's sample filter (2D points: fakes D scores below 99% of real data are redrawn); the
"G alone" columns score the same generator with `filter=False`. Wall time is the whole
`ganforge.train` call (data, training, previews, checkpoints); the load average is printed
because the machine may be shared.

    python benchmarks/mixtures.py                        # ring8 + grid25, seeds 0 1 2
    python benchmarks/mixtures.py --data ring8 --seeds 0
    python benchmarks/mixtures.py --table                # rewrite the md from mixtures.jsonl
Writes benchmarks/results/mixtures.md (the file it replaces moves to benchmarks/results/history/)
and appends each run's row to mixtures.jsonl as soon as it is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ganforge
from _record import latest, provenance, write_result
from ganforge.data.mixtures import mixture_means
from ganforge.metrics.modes import PROTOCOL, mode_stats

ROOT = Path(__file__).resolve().parents[1]
N_SAMPLES = 2500
ROWS = ROOT / "benchmarks/results/mixtures.jsonl"
# The point defaults (data/registry.py) were chosen on these seeds; the others are held out.
# grid25's R1 γ was re-chosen on seeds 10-14 (its other settings on 0-2), so 3-9 stay held out.
TUNING_SEEDS = {"ring8": (0, 1, 2), "grid25": (0, 1, 2, 10, 11, 12, 13, 14)}
TARGET = dict(hq=0.90, rkl=0.03)  # every mode, HQ >= 90%, reverse KL <= 0.03 (PacGAN4: 0.07 / 0.04)
# Published rows exactly as GUIDE §5 states them (PacGAN, Lin et al. 2018); no others.
PUBLISHED = {
    "ring8": [("PacGAN4 (published)", 7.8, 0.959, 0.07)],
    "grid25": [("PacGAN4 (published)", 24.8, 0.936, 0.04)],
}


def tuned(r: dict) -> bool:
    return r["seed"] in TUNING_SEEDS[r["data"]]


def run_one(data: str, seed: int, tmp: Path, **options) -> dict:
    """Train at the defaults (plus `options`, for tuning scripts such as grid25_r1.py) and score."""
    load0, t0 = os.getloadavg()[0], time.time()
    run = ganforge.train(data, out=tmp / f"{data}_{seed}", seed=seed, progress=False, **options)
    wall = time.time() - t0
    means, sd = mixture_means(data)
    gen = ganforge.load(run.path)
    st = mode_stats(gen.sample(N_SAMPLES, seed=0).samples, means.numpy(), sd)  # the default: filter on
    raw = mode_stats(gen.sample(N_SAMPLES, seed=0, filter=False).samples, means.numpy(), sd)  # G alone
    return {"data": data, "seed": seed, "steps": run.step, "wall_s": wall,
            "load": (load0 + os.getloadavg()[0]) / 2, "threads": torch.get_num_threads(), "modes": st["modes"],
            "of": st["of_modes"], "hq": st["high_quality"], "rkl": st["reverse_kl"],
            "raw_modes": raw["modes"], "raw_hq": raw["high_quality"], "raw_rkl": raw["reverse_kl"]}


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def meets(r: dict, k: str) -> bool:
    return r[k + "modes"] == r["of"] and r[k + "hq"] >= TARGET["hq"] and r[k + "rkl"] <= TARGET["rkl"]


def verdicts(rows: list[dict]) -> list[str]:
    """Per data set and sampler: how many seeds meet the target, tuning and held-out seeds apart."""
    out = []
    for data in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == data]
        for label, k in (("generator alone", "raw_"), ("+ sample filter", "")):
            parts = []
            for name, group in (("tuning seeds", [r for r in mine if tuned(r)]),
                                ("held-out seeds", [r for r in mine if not tuned(r)])):
                if group:
                    missed = [str(r["seed"]) for r in group if not meets(r, k)]
                    parts.append(f"{name} {sum(meets(r, k) for r in group)}/{len(group)}"
                                 + (f" (missed: seed {', '.join(missed)})" if missed else ""))
            out.append(f"- {data}, {label}: {'; '.join(parts)}")
    return out


def _seeds(group: list[dict]) -> str:
    seeds = sorted(r["seed"] for r in group)
    return (f"seeds {seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2
            else "seeds " + ", ".join(map(str, seeds)))


def _seed_groups(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """(name, rows) for the tuning seeds and the held-out seeds, each where it has 2+ rows."""
    out = []
    for kind, group in (("tuning", [r for r in rows if tuned(r)]),
                        ("held-out", [r for r in rows if not tuned(r)])):
        if len(group) > 1:
            out.append((f"{kind} {_seeds(group)}", group))
    return out


def _target_lines(rows: list[dict]) -> list[str]:
    sets = list(dict.fromkeys(r["data"] for r in rows))
    tuning = "; ".join(f"{d} {_seeds([{'seed': s} for s in TUNING_SEEDS[d]])}" for d in sets)
    note = " (grid25's R1 γ on 10-14, its other settings on 0-2)" if "grid25" in sets else ""
    return [f"Target: every mode, HQ >= {TARGET['hq']:.0%}, reverse KL <= {TARGET['rkl']}. The point defaults "
            f"were tuned on {tuning}{note}; other seeds are held out. Seeds meeting the target:",
            "", *verdicts(rows)]


def table(rows: list[dict]) -> str:
    """Like for like first: the generator alone beside PacGAN's published generator, then the
    same generators through the sample filter (what `sample()` returns by default)."""
    out = []
    for data in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == data]
        of, steps = mine[0]["of"], mine[0]["steps"]
        out += [f"## {data}", "",
                "| method | seeds | steps | modes | HQ | reverse KL | wall s per run | threads | load avg |",
                "|---|---|---|---|---|---|---|---|---|"]
        for label, k in (("ganforge generator alone (`--no-filter`)", "raw_"), ("ganforge + sample filter (default `sample()`)", "")):
            for name, group in _seed_groups(mine):
                out.append(f"| **{label}, mean of {name}** | {len(group)} | {steps} | "
                           f"**{_mean(group, k + 'modes'):.1f}/{of}** | **{_mean(group, k + 'hq'):.1%}** | "
                           f"**{_mean(group, k + 'rkl'):.3f}** | {_mean(group, 'wall_s'):.0f} | | "
                           f"{_mean(group, 'load'):.1f} |")
            for r in mine:
                out.append(f"| {label}, seed {r['seed']} | 1 | {r['steps']} | {r[k + 'modes']}/{of} | "
                           f"{r[k + 'hq']:.1%} | {r[k + 'rkl']:.3f} | {r['wall_s']:.0f} | {r['threads']} | {r['load']:.1f} |")
            if k == "raw_":
                for name, modes, hq, rkl in PUBLISHED.get(data, []):
                    out.append(f"| {name}, generator alone | | | {modes}/{of} | {hq:.1%} | {rkl:.2f} | | | |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["ring8", "grid25"], choices=["ring8", "grid25"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    ap.add_argument("--md", default=str(ROOT / "benchmarks/results/mixtures.md"))
    ap.add_argument("--table", action="store_true", help="only rewrite the md from mixtures.jsonl")
    args = ap.parse_args()
    if args.table:
        return render_table(Path(args.md))
    if args.threads:
        torch.set_num_threads(args.threads)
    prov = provenance()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for data in args.data:
            for seed in args.seeds:
                if not args.threads:  # the policy only lowers torch's setting: start each run from all
                    torch.set_num_threads(os.cpu_count() or 1)
                rows.append(run_one(data, seed, Path(tmp)))
                r = rows[-1]
                with open(ROWS, "a") as f:  # every row kept as it is measured: a cut-off run loses none
                    f.write(json.dumps({**r, "date": prov["date"], "commit": prov["commit"],
                                        "machine": prov["machine"]}) + "\n")
                print(f"{data} seed {seed}: {r['modes']}/{r['of']} modes, HQ {r['hq']:.1%}, "
                      f"rKL {r['rkl']:.3f}, {r['wall_s']:.0f} s", flush=True)
    md = table(rows) + "\n".join(["", *_target_lines(rows), ""])
    print("\n" + md)
    write_result("mixtures", "2D mixtures at defaults", _body(md), prov, Path(args.md))


def _body(md: str) -> str:
    return (f"Protocol: {PROTOCOL} (sampling seed 0); `ganforge.train(data, seed=s)` with no other options, "
            f"threads as ganforge's policy chose them (the idle cores) unless the threads column says "
            f"otherwise. \"Generator alone\" scores G's own draws (`sample(filter=False)`, like PacGAN's "
            f"numbers); \"+ sample filter\" the default `sample()`, which redraws fakes the run's "
            f"discriminator scores below 99% of real data.\n\n{md}")


def render_table(md_path: Path) -> None:
    """Rewrite the md from mixtures.jsonl: the latest row of each (data, seed)."""
    rows = sorted(latest(ROWS, lambda r: (r["data"], r["seed"])).values(),
                  key=lambda r: (["ring8", "grid25"].index(r["data"]), r["seed"]))
    md = table(rows) + "\n".join(["", *_target_lines(rows), ""])
    keys = sorted({(r["date"][:10], r["commit"], r["machine"]) for r in rows})
    prov = {"command": "python benchmarks/mixtures.py --table",
            "summary": "Rendered from mixtures.jsonl (the latest row of each data set and seed), measured "
                       + "; ".join(f"{d} at commit {c} on {m}" for d, c, m in keys) + "."}
    write_result("mixtures", "2D mixtures at defaults", _body(md), prov, md_path)


if __name__ == "__main__":
    main()
