"""`ganforge report RUN_DIR`: one self-contained report.html (images inlined), PNG plots beside it."""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from ..errors import GanforgeError
from ..train.checkpoint import atomic_write, atomic_write_text
from ..train.run import RunDir


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


def _img(png: bytes, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img alt="{html.escape(alt)}"{w} src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _series(log: list[dict], keys: list[str]) -> dict:
    return {k: ([r["step"] for r in log if k in r], [r[k] for r in log if k in r]) for k in keys
            if any(k in r for r in log)}


def write_report(run_dir: str | Path) -> Path:
    run = RunDir(run_dir)
    if not run.config_path.exists():
        raise GanforgeError(f"{run_dir} is not a ganforge run (no config.json); pass a --out folder of `ganforge train`")
    doc, log = run.read_config(), run.read_log()
    loss_keys = sorted({k for r in log for k in r if k.endswith("_loss")})
    plots = {"losses.png": _plot(_series(log, loss_keys), "Losses", "loss"),
             "d_outputs.png": _plot(_series(log, ["D_real", "D_fake"]),
                                    "Mean D(real) and D(fake): how often D is fooled", "D output")}
    for name, png in plots.items():
        atomic_write(run.path / name, lambda tmp, png=png: Path(tmp).write_bytes(png))
    previews = sorted(run.samples_dir.glob("step_*.png")) if run.samples_dir.exists() else []
    shown = previews if len(previews) <= 6 else [previews[i * (len(previews) - 1) // 5] for i in range(6)]
    timeline = "".join(f'<figure>{_img(p.read_bytes(), p.stem, 220)}<figcaption>{p.stem}</figcaption></figure>'
                       for p in shown)
    latest = _img(previews[-1].read_bytes(), "latest samples", 420) if previews else "<p>no samples yet</p>"
    last = log[-1] if log else {}
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in doc["config"].items())
    env = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                  for k, v in doc.get("environment", {}).items())
    summary = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ganforge report: {html.escape(str(run.path))}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
figure{{display:inline-block;margin:4px;text-align:center}} figcaption{{font-size:12px;color:#666}}
table{{border-collapse:collapse;font-size:13px}} th,td{{border:1px solid #ddd;padding:3px 8px;text-align:left}}
section{{margin-bottom:2em}}</style></head><body>
<h1>{html.escape(doc['family'])} on {html.escape(doc['data']['name'])}</h1>
<p>Run folder <code>{html.escape(str(run.path))}</code>. Last logged: <code>{html.escape(summary)}</code></p>
<section id="samples"><h2>Latest samples</h2>{latest}</section>
<section id="timeline"><h2>Samples over training</h2>{timeline}</section>
<section id="curves"><h2>Training curves</h2>{_img(plots['losses.png'], 'losses')}{_img(plots['d_outputs.png'], 'D outputs')}</section>
<section id="config"><h2>Configuration</h2><table>{rows}</table></section>
<section id="environment"><h2>Environment</h2><table>{env}</table></section>
</body></html>"""
    out = run.path / "report.html"
    atomic_write_text(out, page)
    return out
