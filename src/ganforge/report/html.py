"""`ganforge report RUN_DIR`: one self-contained report.html (images inlined), PNG plots beside it.

Sections: scorecard (metrics with protocol and real-vs-real floor, from metrics.json; evaluated
first when missing or older than the checkpoint), samples, per-class grid, latent interpolation,
samples over training, loss / D-output / metric curves, memorisation pairs, config, environment.
"""
from __future__ import annotations

import html
import io
import json
from pathlib import Path

from ..io.checkpoint import atomic_write, atomic_write_text, read_metadata
from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from . import sections
from .health import health_html
from .sections import img_tag

CSS = """body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;color:#222;padding:0 1em}
figure{display:inline-block;margin:4px;text-align:center;vertical-align:top}
figcaption{font-size:12px;color:#666;max-width:760px}
table{border-collapse:collapse;font-size:13px;margin:.5em 0} th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
.small{font-size:11px;color:#555} .note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em}
section{margin-bottom:2em} img{max-width:100%}"""


def _plot(series: dict[str, tuple[list, list]], title: str, ylabel: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, label=name, lw=1.2)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _series(log: list[dict], keys: list[str]) -> dict:
    return {k: ([r["step"] for r in log if k in r], [r[k] for r in log if k in r]) for k in keys
            if any(k in r for r in log)}


def _metrics(run: RunDir, evaluate: bool, n: int | None, log=None) -> tuple[dict | None, str]:
    """metrics.json, re-evaluated when asked and missing/stale; plus a note for the reader."""
    from ..metrics.evaluate import evaluate as run_eval
    from ..metrics.evaluate import read_metrics
    doc = read_metrics(run.path)
    step = int(read_metadata(run.checkpoint_path)["step"]) if run.has_checkpoint() else None
    stale = doc is not None and step is not None and doc.get("step") != step
    if evaluate and (doc is None or stale) and (run.path / "generator.json").exists():
        try:
            if log:
                log("metrics.json is missing or older than the run: evaluating first (--no-eval skips it)")
            return run_eval(run.path, n=n, log=log), ""
        except GanforgeError as e:
            if log:
                log(f"evaluation failed: {e}")
            return doc, f"Evaluation failed: {e}"
    if doc is None:
        return None, "Not evaluated yet: run <code>ganforge evaluate RUN_DIR</code> (or report without --no-eval)."
    if stale:
        return doc, (f"These metrics are from step {doc.get('step')}, the run is at step {step}: "
                     f"re-run <code>ganforge evaluate</code>.")
    return doc, ""


def _generator(run: RunDir):
    from ..artifacts.noise import Generator
    try:
        return Generator.load(run.path)
    except GanforgeError:
        return None


def _scorecard(doc: dict | None) -> str:
    """The headline: the main numbers next to what real data scores."""
    if not doc:
        return ""
    pick = {r["metric"]: r for r in doc["metrics"]}
    cells = []
    for k in ("fid", "precision", "recall", "coverage", "label_accuracy", "modes"):
        if k in pick:
            r = pick[k]
            cells.append(f"<td><b>{html.escape(r['label'])}</b><br>{sections._fmt(r['value'])}"
                         f"<br><span class=small>real vs real {sections._fmt(r['floor'])}</span></td>")
    return f"<table><tr>{''.join(cells)}</tr></table>"


def write_report(run_dir: str | Path, evaluate: bool = True, n: int | None = None, say=None) -> Path:
    """`say(message)`, when given, hears the progress (an evaluation can take a minute)."""
    run = RunDir(run_dir)
    if not run.config_path.exists():
        raise GanforgeError(f"{run_dir} is not a ganforge run (no config.json); pass a --out folder of `ganforge train`")
    doc, log = run.read_config(), run.read_log()
    metrics, note = _metrics(run, evaluate, n, say)
    if say:
        say("plots and pictures")
    gen = _generator(run)
    loss_keys = sorted({k for r in log for k in r if k.endswith("_loss")})
    plots = {"losses.png": _plot(_series(log, loss_keys), "Losses", "loss"),
             "d_outputs.png": _plot(_series(log, ["D_real", "D_fake"]),
                                    "Mean D(real) and D(fake): how often D is fooled", "D output")}
    extra = {"metric_curves.png": sections.metric_curves_png(log),
             "per_class.png": sections.per_class_png(gen, metrics) if gen else None,
             "interpolation.png": sections.interpolation_png(gen) if gen else None}
    plots.update({k: v for k, v in extra.items() if v is not None})
    for name, png in plots.items():
        atomic_write(run.path / name, lambda tmp, png=png: Path(tmp).write_bytes(png))
    previews = sorted(run.samples_dir.glob("step_*.png")) if run.samples_dir.exists() else []
    shown = previews if len(previews) <= 6 else [previews[i * (len(previews) - 1) // 5] for i in range(6)]
    timeline = "".join(f'<figure>{img_tag(p.read_bytes(), p.stem, 220)}<figcaption>{p.stem}</figcaption></figure>'
                       for p in shown)
    latest = img_tag(previews[-1].read_bytes(), "latest samples", 420) if previews else "<p>no samples yet</p>"
    losses = [r for r in log if any(k.endswith("_loss") for k in r)]
    last = losses[-1] if losses else (log[-1] if log else {})
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in doc["config"].items())
    env = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                  for k, v in doc.get("environment", {}).items())
    summary = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items())
    pairs = run.path / "nearest_pairs.png"
    pairs_png = pairs.read_bytes() if metrics and metrics.get("memorisation") and pairs.exists() else None
    metrics_block = sections.metrics_html(metrics, pairs_png) if metrics else ""
    note_html = f'<p class="note">{note}</p>' if note else ""

    def fig(name, alt, caption, width=None):
        return (f"<figure>{img_tag(plots[name], alt, width)}<figcaption>{caption}</figcaption></figure>"
                if name in plots else "")
    curves_caption = ("Cheap evaluations during training (--eval-every); dashed: the real-vs-real floor "
                      "at the same sample count.")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ganforge report: {html.escape(str(run.path))}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(doc['family'])} on {html.escape(doc['data']['name'])}</h1>
<p>Run folder <code>{html.escape(str(run.path))}</code>. Last logged: <code>{html.escape(summary)}</code></p>
<section id="scorecard"><h2>Scorecard</h2>{note_html}{_scorecard(metrics)}</section>
<section id="samples"><h2>Latest samples</h2>{latest}
{fig('per_class.png', 'samples per class', 'One row per class (accuracy and coverage from the evaluation).')}</section>
<section id="interpolation"><h2>Latent interpolation</h2>{fig('interpolation.png', 'latent interpolation',
    'Each row walks (spherical interpolation) between two random latent codes: smooth changes mean '
    'G learned a continuous space rather than a lookup of training images.') or '<p>not applicable</p>'}</section>
<section id="timeline"><h2>Samples over training</h2>{timeline}</section>
<section id="curves"><h2>Training curves</h2>{img_tag(plots['losses.png'], 'losses')}{img_tag(plots['d_outputs.png'], 'D outputs')}
{fig('metric_curves.png', 'metric curves', curves_caption)}</section>
{health_html(run.path, img_tag)}
<section id="metrics"><h2>Metrics</h2>{metrics_block or note_html}</section>
<section id="config"><h2>Configuration</h2><table>{rows}</table></section>
<section id="environment"><h2>Environment</h2><table>{env}</table></section>
</body></html>"""
    out = run.path / "report.html"
    atomic_write_text(out, page)
    return out
