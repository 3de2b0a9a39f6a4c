"""What the dashboard reads from RUNS_DIR, and only from there.

Every path comes from `RunsRoot.run_dir` or `RunsRoot.sample_file`, which refuse names with `..`,
absolute names, and anything (a symlink included) that resolves outside RUNS_DIR. Logs are parsed
once per (size, mtime) so that polling a run with 10,000 records stays cheap.
"""
from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from ..io.rundir import CONFIG, LOG, SAMPLES

SAMPLE_NAME = re.compile(r"step_(\d+)\.png")
CURVES = ("d_loss", "g_loss", "D_real", "D_fake", "gnorm_D", "gnorm_G", "div")
MAX_POINTS = 600  # curves are thinned to this many points (the browser draws them all)


class Refused(Exception):
    """A name that does not lead to a run (or a file of one) inside RUNS_DIR."""


class RunsRoot:
    def __init__(self, root: str | Path, depth: int = 3):
        self.root, self.depth = Path(root).resolve(), depth
        self._logs: dict[Path, tuple[tuple[int, int], list[dict]]] = {}

    # ---- safe paths ---------------------------------------------------------------------
    def inside(self, path: Path) -> Path:
        real = path.resolve()
        if real != self.root and self.root not in real.parents:
            raise Refused(str(path))
        return real

    def run_dir(self, name: str) -> Path:
        parts = PurePosixPath(name).parts
        if not name or name.startswith(("/", "\\")) or "\\" in name or any(p in ("..", ".") for p in parts) \
                or re.match(r"^[A-Za-z]:", name):
            raise Refused(name)
        path = self.inside(self.root.joinpath(*parts))
        if not (path / CONFIG).is_file():
            raise Refused(name)
        return path

    def sample_file(self, name: str, file: str) -> Path:
        if not SAMPLE_NAME.fullmatch(file):
            raise Refused(file)
        path = self.inside(self.run_dir(name) / SAMPLES / file)
        if not path.is_file():
            raise Refused(file)
        return path

    # ---- reading ------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Run folders (holding config.json) under the root, up to `depth` levels down."""
        out, level = [], [self.root]
        for _ in range(self.depth):
            nxt = []
            for d in level:
                for p in sorted(d.iterdir()) if d.is_dir() else []:
                    if p.is_dir() and not p.name.startswith("."):
                        try:
                            self.inside(p)
                        except Refused:
                            continue
                        (out if (p / CONFIG).is_file() else nxt).append(p)
            level = nxt
        return [p.relative_to(self.root).as_posix() for p in out]

    def log(self, path: Path) -> list[dict]:
        f = path / LOG
        try:
            st = f.stat()
        except OSError:
            return []
        key = (st.st_size, st.st_mtime_ns)
        hit = self._logs.get(f)
        if hit and hit[0] == key:
            return hit[1]
        records = []
        for line in f.read_text(errors="replace").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill or being written
                continue
            if isinstance(r, dict):
                records.append(r)
        self._logs[f] = (key, records)
        return records

    def summary(self, name: str) -> dict:
        path = self.run_dir(name)
        cfg = _json(path / CONFIG)
        log = self.log(path)
        steps = [r for r in log if "d_loss" in r or "g_loss" in r]
        health = next((r["health"] for r in reversed(log) if "health" in r), None)
        stopped = next((r for r in reversed(log) if r.get("action") == "stop"), None)
        best = _best_metric(log, _json(path / "metrics.json"))
        mtimes = [p.stat().st_mtime for p in (path / LOG, path / CONFIG) if p.exists()]
        return {"name": name, "family": cfg.get("family"), "data": (cfg.get("data") or {}).get("name"),
                "step": max((r.get("step", 0) for r in steps), default=0),
                "steps": (cfg.get("config") or {}).get("steps"),
                "status": "stopped" if stopped else (health or "starting"),
                "best": best, "updated": max(mtimes, default=None)}

    def detail(self, name: str) -> dict:
        path = self.run_dir(name)
        log = self.log(path)
        rows = [r for r in log if any(k in r for k in CURVES)]
        stride = max(1, -(-len(rows) // MAX_POINTS))
        thin = rows[::stride] + ([rows[-1]] if rows and (len(rows) - 1) % stride else [])
        curves = {k: [[r["step"], r[k]] for r in thin if isinstance(r.get(k), (int, float))] for k in CURVES}
        findings = [{k: r.get(k) for k in ("step", "onset", "finding", "severity", "evidence", "advice")}
                    for r in log if "finding" in r and "severity" in r]
        actions = [r for r in log if "action" in r]
        evals = [{k[5:]: v for k, v in r.items() if k.startswith("eval_")} | {"step": r["step"]}
                 for r in log if "eval_fid" in r]
        return {**self.summary(name), "curves": {k: v for k, v in curves.items() if v},
                "findings": findings, "actions": actions, "evals": evals, "samples": self.samples(path),
                "metrics": _metrics(_json(path / "metrics.json"))}

    def samples(self, path: Path) -> list[dict]:
        d = path / SAMPLES
        found = [(int(m.group(1)), p.name) for p in (d.iterdir() if d.is_dir() else [])
                 if (m := SAMPLE_NAME.fullmatch(p.name))]
        return [{"step": s, "file": f} for s, f in sorted(found)]


def _json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _metrics(doc: dict) -> list[dict]:
    rows = doc.get("metrics") if isinstance(doc.get("metrics"), list) else []
    return [{k: r.get(k) for k in ("metric", "label", "value", "floor", "better")} for r in rows if isinstance(r, dict)]


def _best_metric(log: list[dict], metrics: dict) -> dict | None:
    """The lowest training-time FID, else the FID of `ganforge evaluate` (metrics.json)."""
    fids = [(r["eval_fid"], r["step"]) for r in log if isinstance(r.get("eval_fid"), (int, float))]
    if fids:
        v, s = min(fids)
        return {"metric": "fid", "value": v, "step": s}
    row = next((r for r in _metrics(metrics) if r["metric"] == "fid"), None)
    return {"metric": "fid", "value": row["value"], "step": None} if row else None
