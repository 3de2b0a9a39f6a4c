"""Screenshots of `ganforge dashboard` for the README: trains two small runs (ring8 and digits, one
CPU thread), serves the dashboard over them on a free local port and captures the runs list, a
run page (curves and sample grid) and its trained-model panel with the system's headless Chromium
into docs/images/dashboard_*.png.

    python scripts/dashboard_screenshots.py [--steps 400] [--keep RUNS_DIR]
"""
from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
WIDTH = 1200
MAX_BYTES = 200_000


def chromium() -> str:
    found = next((shutil.which(b) for b in ("chromium-headless-shell", "chromium", "chromium-browser")
                  if shutil.which(b)), None)
    if found is None:
        sys.exit("no headless Chromium found: apt-get install chromium-headless-shell")
    return found


def train(runs: Path, data: str, steps: int) -> None:
    """A normal `ganforge train` run; the eval records give the runs list and the run page numbers."""
    cmd = [sys.executable, "-m", "ganforge", "train", data, "--steps", str(steps), "--threads", "1",
           "--sample-every", str(max(steps // 8, 1)), "--eval-every", str(max(steps // 4, 1)),
           "--out", str(runs / data), "--quiet"]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def serving(runs: Path):
    from ganforge.dashboard.server import create_app, serve_in_thread
    return serve_in_thread(create_app(runs))


def shot(browser: str, url: str, height: int) -> Image.Image:
    """The page at WIDTH x height after its scripts have fetched and drawn the JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "shot.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--virtual-time-budget=8000", f"--window-size={WIDTH},{height}",
                        f"--screenshot={png}", url], check=True, capture_output=True, timeout=120)
        return Image.open(png).convert("RGB")


def save(image: Image.Image, name: str) -> None:
    """A palette PNG (the pages are flat colours), under MAX_BYTES."""
    path = IMAGES / f"dashboard_{name}.png"
    buf = io.BytesIO()
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
    if buf.tell() > MAX_BYTES:
        sys.exit(f"{path.name} is {buf.tell():,} bytes (limit {MAX_BYTES:,})")
    path.write_bytes(buf.getvalue())
    print(f"wrote {path.relative_to(ROOT)} ({image.width}x{image.height}, {buf.tell() // 1000} KB)")


def blocks(page: Image.Image) -> list[tuple[int, int]]:
    """(top, bottom) of each band of rows that is not all page background, top to bottom."""
    a = np.asarray(page).astype(int)
    blank = (np.abs(a - a[-1, -1]).sum(2) < 8).all(1)
    edges = np.flatnonzero(np.diff(np.r_[1, blank.astype(int), 1]))  # starts and ends of content
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def content_width(page: Image.Image, below: int) -> int:
    a = np.asarray(page)[below:].astype(int)
    used = np.flatnonzero((np.abs(a - a[-1, -1]).sum(2) >= 8).any(0))
    return min(page.width, int(used.max()) + 18)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--keep", type=Path, help="train into (or reuse) this runs folder instead of a temporary one")
    args = ap.parse_args()
    browser = chromium()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.keep or Path(tmp) / "runs"
        for data in ("ring8", "digits"):
            if not (runs / data / "generator.json").exists():
                train(runs, data, args.steps)
        with serving(runs) as url:
            listing = shot(browser, url + "/", 400)
            save(listing.crop((0, 0, content_width(listing, 42), blocks(listing)[-1][1] + 16)), "runs")
            # a run page: header, curves, then the sample grid (the first band taller than a curve
            # row), then the trained-model grid, health findings and metrics
            ring8 = shot(browser, url + "/run/ring8", 2000)
            grid_end = next(b for t, b in blocks(ring8) if b - t > 250)
            save(ring8.crop((0, 0, content_width(ring8, 42), grid_end + 16)), "run")
            digits = shot(browser, url + "/run/digits", 2000)
            grid_end = next(b for t, b in blocks(digits) if b - t > 250)
            panel = digits.crop((0, grid_end + 12, WIDTH, blocks(digits)[-1][1] + 16))
            save(panel.crop((0, 0, content_width(panel, 0), panel.height)), "model")


if __name__ == "__main__":
    main()
