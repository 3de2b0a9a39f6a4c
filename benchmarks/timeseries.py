"""TimeGAN's protocol on ganforge's `timegan`: discriminative and predictive scores on sines and
S&P 500 dailies, beside the published TimeGAN numbers and baselines measured in the same run.

Per data set and seed: train `timegan` on all windows (stride-1 windows of 24 steps, min-max
scaled), draw as many synthetic windows as there are real ones, and score (metrics/timeseries.py):
- discriminative: |acc - 0.5| of a post-hoc GRU classifier, 80/20 split of real and synthetic;
- predictive: MAE on all real windows of a post-hoc GRU trained on synthetic windows to predict
  the last feature one step ahead (TimeGAN's protocol: the test windows are the training data).
Baselines scored the same way: real vs real (two random halves; predictive: trained on real),
a Gaussian over whole windows (mean and full covariance of the 24 x F values, clipped to the
data's [0, 1] like a generator's sigmoid outputs), uniform noise.
The post-hoc nets train for --disc-iters / --pred-iters Adam steps (TimeGAN: 2,000 / 5,000);
fewer steps make a weaker judge, which is why every row of one run uses the same ones.

Rows go to benchmarks/results/timeseries.jsonl (one per data set, seed and generator, with date,
commit, machine and load) and are rendered to benchmarks/results/timeseries.md; seed 0 also
writes a PCA picture of real vs synthetic windows (TimeGAN's figure: windows averaged over
features). Run: python benchmarks/timeseries.py [--sets sines sp500] [--seeds 0 1 2]
Tuning: --opt key=value (timegan options) trains a variant; its rows go to
timeseries_tuning.jsonl only (no baselines, no picture), so the report's rows stay the defaults'.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ganforge
from _record import RESULTS, provenance, write_result
from ganforge.data.series import read_series
from ganforge.metrics.timeseries import discriminative_score, gaussian_windows, noise_windows, predictive_score

PUBLISHED = {"sines": (0.011, 0.093), "sp500": (0.102, 0.038)}  # TimeGAN Table 2 (stocks: Google, not S&P 500)
JSONL = RESULTS / "timeseries.jsonl"
TUNING = RESULTS / "timeseries_tuning.jsonl"


def roughness(x: np.ndarray) -> float:
    """Mean |second difference| along time: jagged windows score high (real sines: ~0.002)."""
    return float(np.abs(np.diff(x, n=2, axis=1)).mean())


def scores(real, fake, lengths_r, lengths_f, seed, args, pred_train=None) -> dict:
    t = time.time()
    disc = discriminative_score(real, fake, lengths_r, lengths_f, seed=seed, iterations=args.disc_iters)
    tr, tr_len = (fake, lengths_f) if pred_train is None else pred_train
    pred = predictive_score(tr, real, tr_len, lengths_r, seed=seed, iterations=args.pred_iters)
    return {"discriminative": round(disc, 4), "predictive": round(pred, 4), "roughness": round(roughness(fake), 4),
            "eval_s": round(time.time() - t, 1)}


def pca_png(real: np.ndarray, fake: np.ndarray, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    r, f = real.mean(-1), fake.mean(-1)  # TimeGAN's picture: each window averaged over features
    pca = PCA(2).fit(r)
    fig, ax = plt.subplots(figsize=(4, 4))
    for x, c, name in ((pca.transform(r), "tab:red", "real"), (pca.transform(f), "tab:blue", "timegan")):
        ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.3, c=c, label=name)
    ax.set_title(title, fontsize=9)
    ax.legend(markerscale=4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(name: str, seed: int, args, prov: dict) -> list[dict]:
    data = read_series(name)
    real, lengths = data.x.numpy(), data.lengths.numpy()
    n = len(real)
    rows = []

    def row(generator, **kv):
        r = {"set": name, "seed": seed, "generator": generator, **kv, **{k: prov[k] for k in
             ("date", "commit", "machine", "load_average")}, "disc_iters": args.disc_iters,
             "pred_iters": args.pred_iters}
        rows.append(r)
        with open(TUNING if args.opt else JSONL, "a") as f:
            f.write(json.dumps(r) + "\n")
        print(json.dumps(r), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        opts = dict(steps=args.steps, embed_steps=args.embed_steps, supervised_steps=args.supervised_steps,
                    cell=args.cell, seed=seed, threads=args.threads, **args.opt)
        t = time.time()
        trained = ganforge.train(name, model="timegan", out=Path(tmp) / "run", progress=False, **opts)
        fit_s = time.time() - t
        cfg = trained.config["config"]
        change_moments, keep_best = cfg["change_moments"], cfg.get("keep_best")
        kept = {}
        if keep_best:  # the checkpoint training kept by its own judge; its last weights are the paired row
            kept = {"keep_best": keep_best, "eval_every": cfg["eval_every"],
                    "best_step": json.loads((trained.path / "best" / "best.json").read_text())["step"]}
            model = ganforge.load(trained.path / "best")
            last = tuple(a.numpy() for a in ganforge.load(trained.path).sample_tensor(n, seed=1000 + seed))
        else:
            model = ganforge.load(trained.path)
            last = last_weights_sample(model, trained.path, n, seed) if opts.get("ema_decay") else None
        fake, fake_len = (a.numpy() for a in model.sample_tensor(n, seed=1000 + seed))
    settings = {"change_moments": change_moments, **{k: v for k, v in opts.items() if k not in ("seed", "threads")}}
    row(f"timegan-{args.cell}", fit_s=round(fit_s), **settings, **kept, **scores(real, fake, lengths, fake_len, seed, args))
    if last is not None:  # the same run's last weights: the average's (or kept best's) paired comparison
        row(f"timegan-{args.cell}", fit_s=round(fit_s), **settings, weights="last",
            **scores(real, last[0], lengths, last[1], seed, args))
    if args.opt:
        return rows
    if seed == 0:
        pca_png(real[:1000], fake[:1000], RESULTS / f"timeseries_pca_{name}.png",
                f"{name}: PCA, real vs timegan-{args.cell} ({args.steps} steps)")
    done = _measured(name, seed, args)
    rng = np.random.default_rng(seed)
    p = rng.permutation(n)
    a, b = p[: n // 2], p[n // 2:]
    if "real vs real" not in done:
        row("real vs real", **scores(real[a], real[b], lengths[a], lengths[b], seed, args,
                                     pred_train=(real, lengths)))
    if "gaussian" not in done:
        row("gaussian", **scores(real, np.clip(gaussian_windows(real, n, seed), 0, 1), lengths, lengths, seed, args))
    if "noise" not in done:
        row("noise", **scores(real, noise_windows(real, n, seed), lengths, lengths, seed, args))
    return rows


def last_weights_sample(model, run_path: Path, n: int, seed: int):
    """Windows from the run's last (not averaged) G, S and R, with the same noise as the
    averaged sampler's: both samplers come from one training."""
    from ganforge.io.checkpoint import load_state
    live = load_state(run_path / "checkpoint.safetensors")["nets"]
    for part, key in (("generator", "G"), ("supervisor", "S"), ("recovery", "R")):
        getattr(model.net, part).load_state_dict(live[key])
    return tuple(a.numpy() for a in model.sample_tensor(n, seed=1000 + seed))


def _measured(name: str, seed: int, args) -> set:
    """Baselines already in the record for this set and seed with the same post-hoc settings
    (they do not depend on the generator: not measured again)."""
    if not JSONL.exists():
        return set()
    rows = [json.loads(line) for line in JSONL.read_text().splitlines() if line.strip()]
    return {r["generator"] for r in rows if r["set"] == name and r["seed"] == seed
            and (r["disc_iters"], r["pred_iters"]) == (args.disc_iters, args.pred_iters)}


def render() -> str:
    rows = [json.loads(line) for line in JSONL.read_text().splitlines() if line.strip()]
    latest: dict = {}
    for r in rows:  # the latest row of each (set, seed, generator)
        gen = "timegan-" + r["cell"] if r["generator"] == "timegan" else r["generator"]  # first rows: no cell in the name
        if gen.startswith("timegan"):  # each step count and loss setting is its own row
            gen += f", {r['steps']} steps" + (f", change moments {r['change_moments']:g}" if r.get("change_moments")
                                              else "") + (", last weights" if r.get("weights") == "last" else
                                                          f", best {r['keep_best']} of every {r['eval_every']}"
                                                          if r.get("keep_best") else "")
        latest[(r["set"], r["seed"], gen)] = {**r, "generator": gen}
    out = ["| data | generator | seeds | discriminative (lower is better) | predictive MAE (lower is better) "
           "| roughness | fit time | measured |", "|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(k[0] for k in latest):
        gens = sorted({k[2] for k in latest if k[0] == name and k[2].startswith("timegan")},
                      key=lambda g: (g.split(",")[0], int(g.split(", ")[1].split()[0])))
        for gen in (*gens, "real vs real", "gaussian", "noise"):
            rs = [r for k, r in latest.items() if k[0] == name and k[2] == gen]
            if not rs:
                continue
            d, p = (np.array([r[m] for r in rs]) for m in ("discriminative", "predictive"))
            rough = [r["roughness"] for r in rs if "roughness" in r]
            fit = f"{np.mean([r['fit_s'] for r in rs]):.0f} s ({rs[0]['steps']} steps, {rs[0]['cell']})" \
                if gen.startswith("timegan") else ""
            rough_s = f"{np.mean(rough):.4f}" if rough else "-"
            out.append(f"| {name} | {gen} | {len(rs)} | {d.mean():.3f} ± {d.std():.3f} | {p.mean():.4f} ± {p.std():.4f} "
                       f"| {rough_s} | {fit} | {rs[-1]['date']}, {rs[-1]['commit']}, load {rs[-1]['load_average']} |")
        if name in PUBLISHED:
            out.append(f"| {name} | TimeGAN (published) | | {PUBLISHED[name][0]:.3f} | {PUBLISHED[name][1]:.3f} | | | "
                       f"Yoon et al. 2019, Table 2{' (Google stocks)' if name == 'sp500' else ''} |")
    r0 = next(iter(latest.values()))
    out += ["", f"Post-hoc nets: {r0['disc_iters']} / {r0['pred_iters']} Adam steps (TimeGAN: 2,000 / 5,000). "
            f"Roughness: mean |second difference| along time of the generated (real: of real half B) windows "
            f"in [0, 1] space; rows measured before it was added show -. Machine: {r0['machine']}. The published stock numbers are on Google dailies; these are on "
            "S&P 500 dailies (arch), so only the baselines beside them say how hard the set is."]
    return "\n".join(out) + "\n"


def _option(text: str) -> tuple[str, object]:
    """'key=value' -> (key, value): the value read as JSON where it parses (numbers, true), else text."""
    k, _, v = text.partition("=")
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=["sines", "sp500"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=6000)  # timegan's default
    ap.add_argument("--embed-steps", type=int, default=None)
    ap.add_argument("--supervised-steps", type=int, default=None)
    ap.add_argument("--cell", default="gru")  # timegan's default
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--disc-iters", type=int, default=1000)
    ap.add_argument("--pred-iters", type=int, default=2000)
    ap.add_argument("--opt", nargs="+", default=[], metavar="KEY=VALUE",
                    help="timegan options for a tuning variant (rows to timeseries_tuning.jsonl)")
    ap.add_argument("--table", action="store_true", help="only render timeseries.md from timeseries.jsonl")
    args = ap.parse_args()
    args.opt = dict(_option(o) for o in args.opt)
    torch.set_num_threads(args.threads)
    prov = provenance()
    if not args.table:
        for name in args.sets:
            for seed in args.seeds:
                run(name, seed, args, prov)
        if args.opt:
            return
    write_result("timeseries", "Time series: TimeGAN's discriminative and predictive scores", render(), prov,
                 keep_history=False)


if __name__ == "__main__":
    main()
