"""Tabular HTML report: per-column real-vs-synthetic distributions, the column-pair trend
difference heat map, and the evaluation numbers with their protocols. One self-contained
file (images base64-inlined), written atomically."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.table_transform import category_key
from ..io.checkpoint import atomic_write_text

REAL, SYNTH = "#4C72B0", "#DD8452"


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _column_plot(name: str, kind: str, real: pd.Series, synth: pd.Series, score: float) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    if kind == "continuous":
        r = pd.to_numeric(real, errors="coerce").dropna().to_numpy(float)
        s = pd.to_numeric(synth, errors="coerce").dropna().to_numpy(float)
        lo, hi = np.quantile(r, [0.005, 0.995]) if len(r) else (0, 1)
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        for v, color, label in ((r, REAL, "real"), (s, SYNTH, "synthetic")):
            v = v[(v >= bins[0]) & (v <= bins[-1])]
            if len(v):  # density of an empty histogram would divide by zero
                ax.hist(v, bins=bins, density=True, alpha=0.55, color=color, label=label)
    else:
        rc = real.astype(object).map(lambda v: str(category_key(v))).value_counts(normalize=True)
        sc = synth.astype(object).map(lambda v: str(category_key(v))).value_counts(normalize=True)
        top = rc.index[:15]
        x = np.arange(len(top))
        ax.bar(x - 0.2, rc.reindex(top).fillna(0), 0.4, color=REAL, label="real")
        ax.bar(x + 0.2, sc.reindex(top).fillna(0), 0.4, color=SYNTH, label="synthetic")
        ax.set_xticks(x, [t[:14] for t in top], rotation=60, ha="right", fontsize=7)
    ax.set_title(f"{name}  (shape score {score:.3f})", fontsize=9)
    ax.tick_params(labelsize=7)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _png(fig)


def _heatmap(columns: list[str], pairs: dict[str, float]) -> str:
    import matplotlib.pyplot as plt
    k = len(columns)
    m = np.zeros((k, k))
    idx = {c: i for i, c in enumerate(columns)}
    for key, v in pairs.items():
        a, b = key.split(" | ", 1)
        m[idx[a], idx[b]] = m[idx[b], idx[a]] = 1 - v
    fig, ax = plt.subplots(figsize=(0.45 * k + 2.5, 0.45 * k + 1.8))
    im = ax.imshow(m, cmap="Reds", vmin=0, vmax=max(0.2, float(m.max())))
    ax.set_xticks(range(k), [str(c)[:16] for c in columns], rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(k), [str(c)[:16] for c in columns], fontsize=7)
    ax.set_title("column-pair trend difference (1 - similarity)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


def write_tabular_report(path: str | Path, real: pd.DataFrame, synth: pd.DataFrame, result: dict,
                         title: str = "Synthetic table report") -> Path:
    from ..metrics.table_evaluate import summary_lines
    q = result["quality"]
    cols = list(q["kinds"])
    plots = "".join(f'<img alt="{html.escape(str(c))}" src="data:image/png;base64,'
                    f'{_column_plot(str(c), q["kinds"][c], real[c], synth[c], q["shapes"][c])}">'
                    for c in cols)
    heat = _heatmap(cols, q["pairs"]) if len(cols) > 1 else None
    protocols = [q["protocol"], result["privacy"]["protocol"]]
    if "ml_efficacy" in result:
        protocols.insert(1, result["ml_efficacy"]["protocol"])
    worst = sorted(q["shapes"].items(), key=lambda kv: kv[1])[:3]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}}
pre{{background:#f6f6f6;padding:1em}} img{{margin:4px}} li{{margin:.3em 0}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{result['rows']['real']} real rows, {result['rows']['synthetic']} synthetic rows,
{result['rows']['holdout']} holdout rows.</p>
<h2>Scores</h2><pre>{html.escape(chr(10).join(summary_lines(result)))}</pre>
<p>Weakest columns: {html.escape(', '.join(f'{c} ({v:.3f})' for c, v in worst))}</p>
<h2>Columns: real vs synthetic</h2><div>{plots}</div>
<h2>Column pairs</h2>{f'<img alt="pair trend difference" src="data:image/png;base64,{heat}">' if heat else '<p>one column: no pairs</p>'}
<h2>Protocols</h2><ul>{''.join(f'<li>{html.escape(p)}</li>' for p in protocols)}</ul>
</body></html>"""
    path = Path(path)
    atomic_write_text(path, doc)
    return path
