"""`ganforge doctor RUN_DIR`: a diagnosis of a finished or running run from its log.jsonl.

Findings the live monitor logged are taken as they are (with the fixes/stops it made); runs
logged without the monitor are replayed through the same detectors from their loss records.
"""
from __future__ import annotations

from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from .detectors import SEVERITY
from .monitor import Tracker


def merged_records(log: list[dict]) -> list[dict]:
    """One record per logged step, in file order: loss record + monitor signals + eval values."""
    out: list[dict] = []
    for r in log:
        if "finding" in r or "action" in r or "fix_result" in r:
            continue
        if out and out[-1]["step"] == r["step"]:
            out[-1].update({k: v for k, v in r.items() if k != "health"})
        else:
            out.append({k: v for k, v in r.items() if k != "health"})
    return out


def diagnose(run_dir) -> dict:
    run = RunDir(run_dir)
    if not run.config_path.exists():
        raise GanforgeError(f"{run_dir} is not a ganforge run (no config.json); pass a --out folder of `ganforge train`")
    log = run.read_log()
    logged = [r for r in log if "finding" in r and "severity" in r and "advice" in r]
    actions = [r for r in log if "action" in r or "fix_result" in r]
    live = any("health" in r for r in log)
    if live:
        findings, source = logged, "logged live by the health monitor"
    else:
        tracker, findings = Tracker(), []
        for rec in merged_records(log):
            if "d_loss" in rec or "g_loss" in rec:
                findings += [f.to_record() for f in tracker.update(rec)[1]]
        source = "replayed from the loss records (run logged without the monitor)"
    steps = [r["step"] for r in log if "step" in r]
    statuses = [r["health"] for r in log if "health" in r]
    worst = max((f["severity"] for f in findings), key=SEVERITY.get, default="healthy")
    seen = {k for r in log for k in r}
    watched = ["losses"] + [name for key, name in (("gnorm_D", "gradient norms"), ("D_real", "D outputs"),
                                                   ("div", "sample diversity"),
                                                   ("div_class_min", "within-caption diversity" if "div_worst_caption" in seen
                                                    else "within-class diversity"),
                                                   ("probe_recall", "recall/coverage probe")) if key in seen]
    return {"run": str(run.path), "last_step": max(steps) if steps else 0, "source": source, "watched": watched,
            "status_now": statuses[-1] if statuses else None, "worst": worst,
            "findings": findings, "actions": actions}


def format_diagnosis(d: dict) -> str:
    lines = [f"run {d['run']}  last logged step {d['last_step']}  ({d['source']})",
             f"status now: {d['status_now'] or 'n/a'}   worst finding: {d['worst']}"]
    if not d["findings"]:
        watched = d.get("watched", ["losses"])
        lines.append(f"no findings: {', '.join(watched[:-1])} and {watched[-1]} looked healthy throughout"
                     if len(watched) > 1 else f"no findings: {watched[0]} looked healthy throughout")
    for f in d["findings"]:
        ev = ", ".join(f"{k}={v}" for k, v in f["evidence"].items())
        lines.append(f"- step {f['onset']}-{f['step']}  [{f['severity']}] {f['finding']}: {ev}")
        lines.append(f"    advice: {f['advice']}")
    for a in d["actions"]:
        if "fix_result" in a:
            lines.append(f"- step {a['step']}  fix {a['fix_result']} ({a['finding']}: {a['change']}) "
                         f"before {a['before']} after {a['after']} -> {a['status']}")
        elif a["action"] == "fix":
            lines.append(f"- step {a['step']}  fix {a['attempt']} for {a['finding']}: rolled back to step "
                         f"{a['rolled_back_to']}, {a['change']}")
        else:
            lines.append(f"- step {a['step']}  stopped on {a['finding']} ({a['reason']}); "
                         f"checkpoint kept at step {a.get('kept_step')}")
    return "\n".join(lines)
