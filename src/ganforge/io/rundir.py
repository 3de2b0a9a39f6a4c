"""A run directory: config.json, log.jsonl, samples/, checkpoint.safetensors, generator.*"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from .checkpoint import atomic_write_text

CONFIG, LOG, CHECKPOINT, SAMPLES = "config.json", "log.jsonl", "checkpoint.safetensors", "samples"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / CONFIG)
    log_path = property(lambda self: self.path / LOG)
    checkpoint_path = property(lambda self: self.path / CHECKPOINT)
    samples_dir = property(lambda self: self.path / SAMPLES)

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def write_config(self, config: dict, data_meta: dict, family: str, precision: str | None = None) -> None:
        env = {"python": platform.python_version(), "torch": torch.__version__,
               "platform": platform.platform(), "cuda": torch.cuda.is_available()}
        from importlib.metadata import version
        __version__ = version("ganforge")
        doc = {"ganforge": __version__, "family": family, "config": config, "data": data_meta,
               "precision": precision, "environment": env}  # precision: what `auto` resolved to
        atomic_write_text(self.config_path, json.dumps(doc, indent=2))

    def read_config(self) -> dict:
        return json.loads(self.config_path.read_text())

    def log(self, record: dict) -> None:
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def read_log(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: ignore it
                pass
        return out

    def truncate_log(self, after_step: int) -> None:
        """Drop log records past `after_step` (written after the checkpoint a resume starts from)."""
        kept = [r for r in self.read_log() if r.get("step", 0) <= after_step]
        atomic_write_text(self.log_path, "".join(json.dumps(r) + "\n" for r in kept))
