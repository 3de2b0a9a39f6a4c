"""Report sections about quality: metric curves from training-time evaluation, the metrics
table with its protocol and real-vs-real floor, per-class sample grids, nearest-neighbour
pairs (memorisation) and a latent interpolation strip. Each returns PNG bytes or HTML."""
from __future__ import annotations

import base64
import html
import io
import math

import numpy as np
import torch

from ..artifacts.style import slerp
from ..io.images import grid, png_bytes, to_uint8

CURVES = ("fid", "kid", "precision", "recall", "density", "coverage", "modes")


def img_tag(png: bytes, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img alt="{html.escape(alt)}"{w} src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def metric_curves_png(log: list[dict]) -> bytes | None:
    """One panel per training-time metric, its real-vs-real floor dashed; None if never evaluated."""
    recs = [r for r in log if any(k.startswith("eval_") for k in r)]
    keys = [k for k in CURVES if any(f"eval_{k}" in r for r in recs)]
    if not keys:
        return None
    plt = _plt()
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.4 * rows), dpi=100, squeeze=False)
    for ax, k in zip(axes.flat, keys):
        pts = [(r["step"], r[f"eval_{k}"]) for r in recs if f"eval_{k}" in r]
        ax.plot(*zip(*pts), marker=".", lw=1.2, label="generated")
        floors = [r[f"eval_{k}_floor"] for r in recs if f"eval_{k}_floor" in r]
        if floors:
            ax.axhline(floors[-1], ls="--", c="0.4", lw=1, label="real vs real")
        best = [r["step"] for r in recs if r.get("eval_best")]
        if best:
            ax.axvline(best[-1], c="tab:green", lw=0.8, alpha=0.6, label="kept best")
        ax.set_title(k, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    n = recs[-1].get("eval_n", "?")
    fig.suptitle(f"training-time evaluation ({recs[-1].get('eval_extractor', '')} features, "
                 f"{n} generated vs {n} real)", fontsize=9)
    fig.tight_layout()
    return _fig_png(fig)


def per_class_png(gen, metrics: dict | None, per: int = 10, seed: int = 7) -> bytes | None:
    """Rows of samples per class, labelled with the class name (and its accuracy/coverage)."""
    if not gen.num_classes or gen.data["kind"] != "images":
        return None
    nc = gen.num_classes
    s = gen.sample(nc * per, labels=torch.arange(nc).repeat_interleave(per), seed=seed).samples
    stats = {c["class"]: c for c in (metrics or {}).get("per_class") or []}
    plt = _plt()
    fig, axes = plt.subplots(nc, 1, figsize=(per * 0.55 + 1.6, nc * 0.62), dpi=110)
    for c, ax in enumerate(np.atleast_1d(axes)):
        row = grid(s[c * per:(c + 1) * per], nrow=per, pad=1)
        ax.imshow(row[..., 0] if row.shape[-1] == 1 else row, cmap="gray", interpolation="nearest")
        label = gen.class_names[c] if c < len(gen.class_names) else str(c)
        st = stats.get(c)
        if st and st.get("accuracy") is not None:
            cov = f" cov {st['coverage']:.2f}" if st.get("coverage") is not None else ""
            label += f"\nacc {st['accuracy']:.2f}{cov}"
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
        ax.set_xticks([]), ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
    return _fig_png(fig)


@torch.no_grad()
def interpolation_png(gen, rows: int = 4, steps: int = 10, seed: int = 11) -> bytes | None:
    """Each row walks (slerp) from one latent code to another; conditional rows keep one class."""
    if gen.data["kind"] != "images" or not gen.z_dim:
        return None
    g = torch.Generator().manual_seed(seed)
    z0, z1 = torch.randn(rows, gen.z_dim, generator=g), torch.randn(rows, gen.z_dim, generator=g)
    z = torch.stack([slerp(z0[r], z1[r], t) for r in range(rows) for t in np.linspace(0, 1, steps)])
    y = None
    if gen.num_classes:
        y = torch.tensor([r * gen.num_classes // rows for r in range(rows)]).repeat_interleave(steps)
    x = gen.net(z.to(gen.device), y.to(gen.device) if y is not None else None).float().cpu()
    return png_bytes(grid(to_uint8(x), nrow=steps, upscale_to=560))


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def metrics_html(doc: dict, pairs_png: bytes | None) -> str:
    """Metrics table with value, real-vs-real floor and protocol; per-class table; memorisation."""
    if doc.get("kind") == "series":  # TimeGAN's two scores: their printed table says it all
        from ..metrics.series_evaluate import format_series
        return f"<pre>{html.escape(format_series(doc))}</pre>"
    p = doc["protocol"]
    esc = html.escape
    comparable = ("comparable to published FID at the same sample count" if p["comparable_to_published_fid"]
                  else "ganforge's own features: compare runs with each other, <b>not comparable to "
                       "published (Inception) FID</b>")
    out = [f"<p><b>Protocol.</b> Extractor {esc(p['extractor_info'])}; {comparable}. "
           f"{p['n_generated']:,} generated vs {p['n_real']:,} real; real split: {esc(p['real_split'])}. "
           f"Floor: {esc(p['floor'])}. k = {p['k_precision_recall']} (precision/recall), "
           f"{p['k_density_coverage']} (density/coverage). Evaluated at step {doc['step']} "
           f"on {esc(doc['evaluated_at'])} in {doc['seconds']} s.</p>",
           "<table><tr><th>metric</th><th>generated</th><th>real vs real</th><th>better</th>"
           "<th>protocol</th></tr>"]
    for r in doc["metrics"]:
        out.append(f"<tr><th>{esc(r['label'])}</th><td>{_fmt(r['value'])}</td><td>{_fmt(r['floor'])}</td>"
                   f"<td>{esc(r['better'])}</td><td class=small>{esc(r['protocol'])}</td></tr>")
    out.append("</table>")
    if doc.get("per_class"):
        out.append("<h3>Per class</h3><p class=small>accuracy: share of samples asked for the class "
                   "that the extractor reads as that class (real: its held-out accuracy); coverage "
                   f"k={p['k_density_coverage']} against the class's real examples (floor: real B).</p>"
                   "<table><tr><th>class</th><th>accuracy</th><th>real accuracy</th><th>coverage</th>"
                   "<th>coverage floor</th></tr>")
        for c in doc["per_class"]:
            out.append(f"<tr><th>{esc(str(c['name']))}</th><td>{_fmt(c['accuracy'])}</td>"
                       f"<td>{_fmt(c['real_heldout_accuracy'])}</td><td>{_fmt(c['coverage'])}</td>"
                       f"<td>{_fmt(c['coverage_floor'])}</td></tr>")
        out.append("</table>")
    m = doc.get("memorisation")
    if m:
        out.append(f"<h3 id=memorisation>Memorisation</h3><p>{m['n_generated']:,} generated samples: median "
                   f"distance to the nearest of {m['n_train']:,} training examples {m['median_generated']:.4g} "
                   f"(reference, {esc(m['reference'])}: {m['median_reference']:.4g}; {esc(m['distance'])}). "
                   f"<b>{m['near_copy_share']:.2%}</b> are closer than {m['quantile']:.0%} of the reference "
                   f"(near copies; fresh data: about {m['quantile']:.0%}).</p>")
        if pairs_png:
            dists = ", ".join(f"{c['distance']:.3f}" for c in m["closest"])
            out.append(f"<figure>{img_tag(pairs_png, 'nearest pairs')}<figcaption>top: the generated samples "
                       f"closest to the training set; bottom: their nearest training example "
                       f"(distances {dists})</figcaption></figure>")
    return "\n".join(out)
