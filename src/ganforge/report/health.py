"""The report's "Training health" section: a timeline of the monitor's findings and fixes drawn
over the loss and diversity curves, then a table with evidence and advice."""
from __future__ import annotations

import html
import io

COLORS = {"warning": "#f0b400", "problem": "#d62728"}


def _timeline_png(log: list[dict], findings: list[dict], actions: list[dict]) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3), dpi=100)
    for key in ("d_loss", "g_loss", "D_fake", "div"):
        pts = [(r["step"], r[key]) for r in log if isinstance(r.get(key), (int, float))]
        if pts:
            ax.plot(*zip(*pts), lw=1, label=key)
    for f in findings:
        ax.axvspan(f["onset"], f["step"] + 1, color=COLORS.get(f["severity"], "#888"), alpha=0.25)
        ax.axvline(f["step"], color=COLORS.get(f["severity"], "#888"), lw=1)
    for a in actions:
        if a.get("action") == "fix":
            ax.axvline(a["rolled_back_to"], color="#2ca02c", ls="--", lw=1)
    ax.set_xlabel("step")
    ax.set_yscale("symlog")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Health timeline: shaded = finding (yellow warning, red problem), green dashed = fix rollback",
                 fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def health_html(run_path, img_tag) -> str:
    """The whole <section>; empty string when the log holds no monitor records."""
    from ..monitor.doctor import diagnose
    d = diagnose(run_path)
    from ..io.rundir import RunDir
    log = RunDir(run_path).read_log()
    if d["status_now"] is None and not d["findings"]:
        return ""
    rows = "".join(
        f"<tr><td>{f['onset']}&ndash;{f['step']}</td><td>{f['severity']}</td><td>{html.escape(f['finding'])}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in f['evidence'].items()))}</td>"
        f"<td>{html.escape(f['advice'])}</td></tr>" for f in d["findings"])
    acts = "".join(
        f"<tr><td>{a['step']}</td><td colspan=4>{html.escape(_action_text(a))}</td></tr>" for a in d["actions"])
    table = (f"<table><tr><th>steps</th><th>severity</th><th>finding</th><th>evidence</th><th>advice</th></tr>"
             f"{rows}{acts}</table>") if rows or acts else "<p>No findings: the run looked healthy throughout.</p>"
    png = _timeline_png(log, d["findings"], d["actions"])
    return (f'<section id="health"><h2>Training health</h2><p>Status at the last log step: '
            f'<b>{html.escape(str(d["status_now"]))}</b> ({html.escape(d["source"])}; '
            f'<code>ganforge doctor RUN_DIR</code> prints this).</p>{img_tag(png, "health timeline")}{table}</section>')


def _action_text(a: dict) -> str:
    if "fix_result" in a:
        return f"fix {a['fix_result']} ({a['finding']}: {a['change']}): before {a['before']}, after {a['after']}, status {a['status']}"
    if a.get("action") == "fix":
        return f"fix {a['attempt']} for {a['finding']}: rolled back to step {a['rolled_back_to']}; {a['change']}"
    return f"stopped on {a['finding']} ({a.get('reason')}); checkpoint kept at step {a.get('kept_step')}"
