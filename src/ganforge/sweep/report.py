"""The sweep's report, rewritten after every session: SWEEP_DIR/results.json (every trial),
report.md (best trial, how to train it, the table of trials, importances) and parallel.png (a
parallel-coordinates plot of the options against the metric), plus best.json, the best trial's
options as a `ganforge train --config` file."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..io.checkpoint import atomic_write, atomic_write_text
from . import space as spaces

PLOT, RESULTS, REPORT, BEST = "parallel.png", "results.json", "report.md", "best.json"


def summarise(study, spec: dict, optuna, root: Path) -> dict:
    S = optuna.trial.TrialState
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == S.WAITING:
            continue
        # a pruned trial's value in Optuna is its last intermediate one: here only final values count
        rows.append({"trial": t.number, "state": t.state.name.lower(),
                     "value": t.value if t.state == S.COMPLETE else None,
                     "params": t.params, "step": t.user_attrs.get("step"), "run": t.user_attrs.get("run"),
                     "seconds": t.user_attrs.get("seconds"),
                     "note": t.user_attrs.get("note") or ("interrupted" if t.user_attrs.get("interrupted") else None)})
    done = [r for r in rows if r["state"] == "complete"]
    best = None
    if done:
        pick = min if spec["direction"] == "minimize" else max
        best = pick(done, key=lambda r: r["value"])
    importance = None
    if len(done) >= 3:
        try:
            importance = {k: round(v, 3) for k, v in optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError):  # e.g. every completed trial had the same options
            importance = None
    defaults = next((r for r in rows if r["trial"] == 0), None)
    return {"folder": str(root), "spec": spec, "trials": rows, "best": best, "defaults": defaults, "importance": importance}


def write_report(root: Path, summary: dict) -> None:
    atomic_write_text(root / RESULTS, json.dumps(summary, indent=2))
    spec, best = summary["spec"], summary["best"]
    if best is not None:
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in spaces.as_options(best["params"]).items()}
        atomic_write_text(root / BEST, json.dumps({"model": spec["model"], "steps": spec["steps"], **options}, indent=2))
    has_plot = _plot(root / PLOT, summary)
    atomic_write_text(root / REPORT, _markdown(root, summary, has_plot))


def _markdown(root: Path, s: dict, has_plot: bool) -> str:
    spec, best, rows = s["spec"], s["best"], s["trials"]
    m = spec["metric"]
    states = {k: sum(r["state"] == k for r in rows) for k in ("complete", "pruned", "fail", "running")}
    lines = [f"# Sweep: {spec['model']} on {spec['data']}, by {m} ({spec['direction']})", "",
             f"{len(rows)} trials: {states['complete']} complete, {states['pruned']} pruned, {states['fail']} failed. "
             f"{spec['steps']} steps each, training-time {m} on {spec['eval_n']} samples every "
             f"{spec['eval_every']} steps; pruned: a health problem, or {m} behind the median of the completed "
             f"trials at the same step (Optuna MedianPruner, from step {spec['pruner']['n_warmup_steps']} on once "
             f"{spec['pruner']['n_startup_trials']} trials completed), or out of time. Trial 0 is the defaults.", ""]
    if best is not None:
        d = s["defaults"]
        vs = f" (defaults, trial 0: {d['value']:.4g})" if d and d["value"] is not None else ""
        lines += [f"**Best: trial {best['trial']}, {m} {best['value']:.4g}**{vs} -> `{best['run']}`", "",
                  f"Train it again: `ganforge train {spec['data']} --config {root / BEST} --out runs/best`", ""]
    else:
        lines += ["No trial completed yet.", ""]
    names = list(spec["space"])
    lines += ["| trial | state | " + m + " | " + " | ".join(names) + " | step | note |",
              "|" + "---|" * (len(names) + 5)]
    for r in rows:
        val = f"{r['value']:.4g}" if r["value"] is not None else "–"
        params = [_fmt(r["params"].get(k)) for k in names]
        lines.append(f"| {r['trial']} | {r['state']} | {val} | " + " | ".join(params)
                     + f" | {r['step'] if r['step'] is not None else '–'} | {r['note'] or ''} |")
    if s["importance"]:
        lines += ["", "Importance (Optuna fANOVA over completed trials): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in s["importance"].items())]
    if has_plot:
        lines += ["", f"![parallel coordinates]({PLOT})"]
    lines += ["", f"Space: {spaces.describe(spec['space'])}"]
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "–" if v is None else str(v)


def _axis(spec_entry, v) -> float | None:
    """A parameter value on its axis, 0..1 (log scale for learning rates, list order for choices)."""
    if v is None:
        return None
    if spec_entry[0] == "log":
        lo, hi = math.log10(spec_entry[1]), math.log10(spec_entry[2])
        return min(1.05, max(-0.05, (math.log10(v) - lo) / (hi - lo))) if v > 0 and hi > lo else 0.5
    keys = [spaces.fixed_params({"x": None}, {"x": c})["x"] for c in spec_entry[1]]
    return keys.index(v) / max(1, len(keys) - 1) if v in keys else None


def _plot(path: Path, s: dict) -> bool:
    spec, rows = s["spec"], [r for r in s["trials"] if r["state"] in ("complete", "pruned")]
    if not rows or not spec["space"]:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(spec["space"])
    done = [r for r in rows if r["value"] is not None]
    vals = [r["value"] for r in done]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    fig, ax = plt.subplots(figsize=(1.6 * (len(names) + 1) + 1, 4.2))
    cmap = plt.get_cmap("viridis_r" if spec["direction"] == "minimize" else "viridis")
    xs = list(range(len(names) + 1))
    for r in rows:
        ys = [_axis(spec["space"][k], r["params"].get(k)) for k in names]
        if r["value"] is not None:
            t = (r["value"] - lo) / (hi - lo) if hi > lo else 0.5
            ax.plot(xs, ys + [t], color=cmap(t), lw=2.2 if r == s["best"] else 1.2, alpha=0.9)
        else:  # pruned: no final value
            ax.plot(xs[:-1], ys, color="0.6", lw=1, ls="--", alpha=0.8)
    for x in xs:
        ax.axvline(x, color="0.85", lw=0.8, zorder=0)
    for i, k in enumerate(names):
        e = spec["space"][k]
        if e[0] == "log":
            ax.text(i, 1.07, f"{e[2]:.2g}", ha="center", fontsize=8)
            ax.text(i, -0.1, f"{e[1]:.2g}", ha="center", fontsize=8)
        else:  # each choice at its place on the axis
            for j, c in enumerate(e[1]):
                ax.text(i + 0.04, j / max(1, len(e[1]) - 1), _fmt(spaces.fixed_params({"x": None}, {"x": c})["x"]),
                        fontsize=7, va="center", color="0.35")
    ax.text(xs[-1], 1.07, f"{hi:.3g}", ha="center", fontsize=8)
    ax.text(xs[-1], -0.1, f"{lo:.3g}", ha="center", fontsize=8)
    ax.set_xticks(xs, names + [spec["metric"]])
    ax.set_yticks([])
    ax.set_ylim(-0.14, 1.12)
    ax.set_title(f"{len(done)} complete (colour: {spec['metric']}), {len(rows) - len(done)} pruned (grey dashes)",
                 fontsize=10)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)
    return True
