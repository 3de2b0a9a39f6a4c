"""Where a benchmark number comes from: date, commit, machine, load (shared by my benchmarks)."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def stamp() -> dict:
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    import torch
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": git("rev-parse", "--short", "HEAD"),
            "machine": f"{cpu_name()}, {os.cpu_count()} CPUs", "torch": torch.__version__,
            "load_avg": round(os.getloadavg()[0], 1)}


def stamp_line(s: dict) -> str:
    return (f"{s['date']}, commit {s['commit']} (+ working tree), {s['machine']}, torch {s['torch']}, "
            f"load average {s['load_avg']} at start")
