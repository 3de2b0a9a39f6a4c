"""How fast the dashboard opens a big run: 10,000 log records and 500 sample grids (the issue's
bar: under 1 s). Server side, through Starlette's TestClient (no network), cold (log parsed) and
warm (a poll: the log is cached by size and mtime). -> benchmarks/results/dashboard.md"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import provenance, write_result  # noqa: E402

from ganforge.dashboard.server import create_app  # noqa: E402
from ganforge.io.images import grid, png_bytes  # noqa: E402


def make_run(path: Path, records: int = 10_000, grids: int = 500) -> None:
    rng = np.random.default_rng(0)
    (path / "samples").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"family": "dcgan", "config": {"data": "mnist", "steps": records},
                                                  "data": {"name": "mnist", "shape": [28, 28, 1]}}))
    keys = ("d_loss", "g_loss", "D_real", "D_fake", "D_acc", "gnorm_D", "gnorm_G", "div")
    with open(path / "log.jsonl", "w") as f:
        for s in range(1, records + 1):
            f.write(json.dumps({"step": s, **{k: float(rng.random()) for k in keys}, "health": "healthy"}) + "\n")
    png = png_bytes(grid(rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8), upscale_to=256))
    for s in np.linspace(0, records, grids, dtype=int):
        (path / "samples" / f"step_{s:07d}.png").write_bytes(png)


def main() -> None:
    from starlette.testclient import TestClient
    with tempfile.TemporaryDirectory() as tmp:
        make_run(Path(tmp) / "big")
        c = TestClient(create_app(tmp))
        t = time.perf_counter()
        runs = c.get("/api/runs")
        page = c.get("/run/big")
        detail = c.get("/api/run/big")
        last = detail.json()["samples"][-1]["file"]
        img = c.get(f"/api/run/big/samples/{last}")
        cold = time.perf_counter() - t
        assert all(r.status_code == 200 for r in (runs, page, detail, img))
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            c.get("/api/run/big")
            warm.append(time.perf_counter() - t)
        size = len(detail.content)
    body = ("| what | seconds |\n|---|---|\n"
            f"| open the run cold: runs list + run page + run JSON (log parsed) + newest grid | {cold:.3f} |\n"
            f"| one poll of the run JSON, warm (median of 5) | {statistics.median(warm):.3f} |\n\n"
            f"Run: 10,000 log records, 500 sample grids; run JSON {size / 1024:.0f} KiB "
            f"(curves thinned to at most 600 points).\n")
    write_result("dashboard", "Dashboard: opening a run with 10,000 records and 500 grids", body, provenance())


if __name__ == "__main__":
    main()
