"""Where a benchmark's numbers come from and where they go.

Every results file a benchmark writes opens with when it was measured, at which commit, on which
machine and how to re-run it; the README quotes these files and nothing else. A new result
replaces the file, and the one it replaces moves to benchmarks/results/history/ (nothing
measured is lost, and the current numbers are the ones on top).
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HISTORY = RESULTS / "history"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def commit() -> str:
    """The short commit, marked when the working tree differs from it (uncommitted code ran).
    Results files are not code: a benchmark appending its rows must not mark a later run."""
    c = _git("rev-parse", "--short", "HEAD") or "unknown"
    # the working tree against HEAD, whatever the index holds (a commit made through another
    # index leaves this one stale, and `git status` would then call clean code uncommitted)
    dirty = _git("diff", "HEAD", "--name-only", "--", "src", "benchmarks", ":(exclude)benchmarks/results")
    return c + (" + uncommitted changes" if dirty else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    import torch
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu_name()}, {cores} cores{gpu}, torch {torch.__version__}"


def load_average() -> float | None:
    return round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None


def provenance(command: str | None = None) -> dict:
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit(), "machine": machine(),
            "load_average": load_average(),
            "command": command or "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])}


def header(title: str, prov: dict) -> str:
    return (f"# {title}\n\n"
            f"<!-- written by {prov['command'].split()[1] if ' ' in prov['command'] else prov['command']}; "
            f"do not edit by hand: re-run it -->\n"
            + (prov.get("summary") or f"Measured {prov['date']} at commit {prov['commit']} on {prov['machine']} "
                                      f"(load average {prov['load_average']} at the start).") + "\n"
            f"Re-run: `{prov['command']}`\n")


def write_result(name: str, title: str, body: str, prov: dict, path: Path | None = None,
                 keep_history: bool = True) -> Path:
    """Write RESULTS/name.md (header + body); an existing file moves to HISTORY first (unless the
    file is rendered from a record that keeps every run itself, like monitor.jsonl)."""
    path = path or RESULTS / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and keep_history:
        old = path.read_text()
        m = re.search(r"Measured (\d{4}-\d{2}-\d{2})", old)
        stamp = m.group(1) if m else time.strftime("%Y-%m-%d", time.localtime(path.stat().st_mtime))
        HISTORY.mkdir(parents=True, exist_ok=True)
        dest, i = HISTORY / f"{path.stem}-{stamp}.md", 2
        while dest.exists():
            dest, i = HISTORY / f"{path.stem}-{stamp}-{i}.md", i + 1
        path.replace(dest)
        print(f"previous results moved to {dest.relative_to(ROOT)}")
    path.write_text(header(title, prov) + "\n" + body.rstrip("\n") + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def latest(jsonl: Path, key) -> dict:
    """The last row of each `key(row)` in a results .jsonl (blank lines skipped), keyed so, in the
    order the keys first appear: the table scripts render from it, so runs of a few cases add up."""
    rows: dict = {}
    for line in jsonl.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[key(r)] = r
    return rows
