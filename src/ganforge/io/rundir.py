"""A run directory: config.json, log.jsonl, samples/, checkpoint.safetensors, generator.*"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from .checkpoint import atomic_write_text, stale_temp_files
from .errors import GanforgeError
from .lock import LOCK

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

    def check_new(self) -> None:
        """Before a new (not resumed) run: the folder must be new, empty, or a run that never
        reached its first checkpoint; a folder of someone's other files is refused, untouched."""
        if self.path.exists() and not self.path.is_dir():
            raise GanforgeError(f"--out {self.path} is a file; pass a folder for the run")
        # a run's lock and a killed write's temp file are ganforge's own, not the user's
        own = {LOCK, *(p.name for p in stale_temp_files(self.path))} if self.path.is_dir() else set()
        theirs = [p for p in self.path.iterdir() if p.name not in own] if self.path.is_dir() else []
        if theirs and not self.config_path.exists():
            raise GanforgeError(f"--out {self.path} already holds files and is not a ganforge run; "
                                f"choose a new or empty folder (nothing in it was changed)")

    def start_log(self) -> None:
        """A new run's log starts empty (one that never checkpointed left records behind)."""
        atomic_write_text(self.log_path, "")

    def write_config(self, config: dict, data_meta: dict, family: str, precision: str | None = None) -> None:
        env = {"python": platform.python_version(), "torch": torch.__version__,
               "platform": platform.platform(), "cuda": torch.cuda.is_available()}
        from importlib.metadata import version
        __version__ = version("ganforge")
        doc = {"ganforge": __version__, "family": family, "config": config, "data": data_meta,
               "precision": precision, "environment": env}  # precision: what `auto` resolved to
        atomic_write_text(self.config_path, json.dumps(doc, indent=2))

    def read_config(self) -> dict:
        """config.json, checked to have what every reader uses (a damaged or newer file: one line)."""
        try:
            doc = json.loads(self.config_path.read_bytes())
        except (OSError, ValueError) as e:
            raise GanforgeError(f"cannot read {self.config_path} ({str(e).splitlines()[0]}); "
                                f"the run folder is damaged") from None
        ok = (isinstance(doc, dict) and isinstance(doc.get("family"), str) and isinstance(doc.get("config"), dict)
              and isinstance(doc.get("data"), dict) and isinstance(doc["config"].get("data"), str)
              and isinstance(doc["config"].get("steps"), int) and isinstance(doc["data"].get("name"), str)
              and isinstance(doc["data"].get("shape"), list))
        if not ok:
            raise GanforgeError(f"{self.config_path} lacks the family, config or data that ganforge writes; "
                                f"the run folder is damaged or from a newer ganforge")
        return doc

    def log(self, record: dict) -> None:
        try:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:  # disk full: one line; a cut last line is skipped by read_log
            raise GanforgeError(f"cannot write {self.log_path} ({e.strerror or e})") from None

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
