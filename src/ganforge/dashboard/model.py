"""The trained-model panel: samples of a noise generator for a seed, truncation and label, via
`ganforge.load(run).sample` (safetensors + JSON only). Models are cached per run folder and
reloaded when generator.safetensors changes (a run still training writes a new one)."""
from __future__ import annotations

from pathlib import Path

from ..api import load
from ..artifacts.noise import Generator
from ..artifacts.saved import GENERATOR_WEIGHTS, read_info
from ..io.errors import GanforgeError
from ..io.images import grid, png_bytes, scatter_png

MAX_N = 256


class Models:
    def __init__(self):
        self._cache: dict[Path, tuple[int, Generator]] = {}

    def get(self, path: Path) -> Generator:
        if read_info(path)["input"] != "noise":
            raise GanforgeError("sliders need a noise generator; use this run's own command for its model")
        stamp = (path / GENERATOR_WEIGHTS).stat().st_mtime_ns
        hit = self._cache.get(path)
        if hit is None or hit[0] != stamp:
            hit = (stamp, load(path))
            self._cache[path] = hit
        return hit[1]

    def describe(self, path: Path) -> dict:
        try:
            gen = self.get(path)
        except GanforgeError as e:
            return {"available": False, "why": str(e)}
        return {"available": True, "kind": gen.data["kind"], "num_classes": gen.num_classes,
                "class_names": gen.class_names, "truncation": bool(getattr(gen.net, "supports_truncation", False))}

    def png(self, path: Path, n: int = 64, seed: int = 0, label: str | None = None,
            truncation: float | None = None) -> bytes:
        if not 1 <= n <= MAX_N:
            raise GanforgeError(f"n must be in 1..{MAX_N}, got {n}")
        gen = self.get(path)
        s = gen.sample(max(n, 1000) if gen.data["kind"] == "points" else n,
                       labels=gen.label_index(label if label not in (None, "") else None),
                       seed=seed, truncation=truncation)
        if gen.data["kind"] == "points":
            return scatter_png(s.samples, title=f"seed {seed}")
        return png_bytes(grid(s.samples, upscale_to=256))
