"""`ganforge train --tensorboard`: a run's scalars, sample grids and health findings as TensorBoard
events in RUN/tensorboard/, so `tensorboard --logdir runs` shows every run.

It reads what the run folder already holds (log.jsonl records, samples/step_*.png), so every number
is the one ganforge logged; as a Trainer callback it catches up at each log step (records are
complete one log step later, once every callback has added to them), and `close()` after training
writes the rest. Needs the `tensorboard` package (`pip install 'ganforge[tensorboard]'`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.errors import GanforgeError
from ..io.rundir import LOG, SAMPLES

SAMPLE = re.compile(r"step_(\d+)\.png")
SKIP = {"step", "sec_per_step", "onset"}


class TensorBoardWriter:
    def __init__(self, run_dir: str | Path | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanforgeError("--tensorboard needs the tensorboard package: "
                                "pip install 'ganforge[tensorboard]'") from None
        self._make, self.run_dir = SummaryWriter, Path(run_dir) if run_dir else None
        self.writer, self.offset, self.grids = None, 0, set()

    def __call__(self, trainer, record) -> None:  # a Trainer callback
        self.sync(trainer.run.path)

    def sync(self, run_dir: str | Path | None = None) -> None:
        """Write what is new in the run folder since the last call."""
        self.run_dir = Path(run_dir) if run_dir else self.run_dir
        if self.writer is None:
            self.writer = self._make(log_dir=str(self.run_dir / "tensorboard"))
        log = self.run_dir / LOG
        if log.exists():
            with open(log, "rb") as f:
                f.seek(self.offset)
                data = f.read()
            done = data[:data.rfind(b"\n") + 1]  # whole lines only: the last may be mid-write
            self.offset += len(done)
            for line in done.decode(errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("step"), int):
                    self._record(rec)
        for p in sorted((self.run_dir / SAMPLES).glob("step_*.png")):
            m = SAMPLE.fullmatch(p.name)
            if m and p.name not in self.grids:
                self.grids.add(p.name)
                img = np.asarray(Image.open(p).convert("RGB"))
                self.writer.add_image("samples", img, int(m.group(1)), dataformats="HWC")
        self.writer.flush()

    def _record(self, rec: dict) -> None:
        step = rec["step"]
        if "finding" in rec:  # a health finding (or a fix / stop acting on one)
            text = f"**[{rec.get('severity', rec.get('action', ''))}] {rec['finding']}** at step {step}  \n" \
                   f"evidence: {json.dumps(rec.get('evidence', {}))}  \nadvice: {rec.get('advice', '')}"
            self.writer.add_text("health/findings", text, step)
            return
        for k, v in rec.items():
            if k not in SKIP and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(k.replace("eval_", "eval/").replace("probe_", "probe/"), v, step)

    def close(self, run_dir: str | Path | None = None) -> None:
        self.sync(run_dir)
        self.writer.close()
