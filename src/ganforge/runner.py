"""The one runner: from a family, its data and its options to a trained run folder.

`ganforge.train` and `TabularGAN.fit` both come here, so every kind of run gets the same run
folder, health monitor, training-time evaluation, resume checks and rank-0 guard.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import torch

from .engine.distributed import is_main_process
from .engine.loop import Trainer
from .families import Family
from .families.options import identity_mismatch
from .io.checkpoint import read_metadata, stale_temp_files
from .io.errors import GanforgeError
from .io.lock import RunLock
from .io.rundir import RunDir
from .metrics.callback import EvalCallback
from .monitor import HealthMonitor


def saved_options(run: RunDir, family: type[Family]) -> dict:
    """The options a run was saved with, as far as `family` still has them (older ganforge
    wrote every option of every family into each run)."""
    if not run.has_checkpoint():
        raise GanforgeError(f"nothing to resume in {run.path} (no checkpoint); drop --resume to start it")
    saved = read_metadata(run.checkpoint_path)["config"]
    own = set(family.Options.names())
    # an identity option newer than the run (e.g. `augment`) keeps the behaviour the run was
    # trained with, its field default, rather than today's default for the data
    newer = {f.name: f.default for f in dataclasses.fields(family.Options) if f.name not in saved
             and not f.metadata.get("run") and f.default is not dataclasses.MISSING and f.default is not None}
    return {**newer, **{k: (tuple(v) if k == "betas" else v) for k, v in saved.items() if k in own}}


class Budget:
    """`--minutes M`: the number of steps follows the measured speed. At every log step the steps
    left are re-planned from the wall time per step so far (including the monitor, previews and
    checkpoints), so a slow start or a busy machine corrects itself; a --lr-decay schedule reads
    the planned total each step. The last plan is the run's `steps` (saved with it)."""

    def __init__(self, minutes: float):
        self.seconds = 60 * minutes

    def start(self, trainer) -> None:
        if trainer.dist.enabled:  # callbacks run on rank 0 only: the ranks would plan different ends
            raise GanforgeError("--minutes is not available under torchrun; give --steps")
        self.t0, self.step0 = time.monotonic(), trainer.step

    def __call__(self, trainer, record: dict) -> None:
        done = trainer.step - self.step0
        spent = time.monotonic() - self.t0
        if done > 0 and spent > 0:
            left = int(max(0.0, self.seconds - spent) * done / spent)
            trainer.cfg.steps = trainer.step + left  # left = 0: this step is the last
            record["planned_steps"] = trainer.cfg.steps
            if left == 0:  # final: config.json says how many steps the run took
                trainer.run.write_config(trainer.cfg.to_dict(), trainer.data.meta(), trainer.family.name,
                                         precision=trainer.precision.name)


def fit(family_cls: type[Family], dataset, cfg, out: str | Path, resume: bool = False,
        callbacks=(), progress: bool = True, announce: str | None = None) -> Trainer:
    """Train `family_cls` on `dataset` with options `cfg` into the run folder `out`.
    `announce` (what trains on what) is printed once the family accepted the data and the run
    folder checks passed, so a refusal is the only line a user sees."""
    run = RunDir(out)
    if cfg.eval_every or cfg.keep_best:  # training-time metrics (checks its options first)
        callbacks = [*callbacks, EvalCallback(dataset, cfg)]
    # The health monitor comes first: it must see non-finite numbers before the others.
    callbacks = [HealthMonitor(dataset, cfg), *callbacks]
    if getattr(cfg, "minutes", None):
        callbacks.append(Budget(cfg.minutes))
    torch.manual_seed(cfg.seed)
    family = family_cls(cfg, dataset.meta())  # validates model x data before touching disk
    if resume:
        saved = read_metadata(run.checkpoint_path)["config"]
        diff = identity_mismatch(saved, cfg)
        if diff:
            k = diff[0]
            raise GanforgeError(f"cannot resume {run.path}: it was trained with {k}={saved.get(k)!r}, "
                                f"not {getattr(cfg, k)!r}; drop that option or use another --out")
    elif run.has_checkpoint():
        raise GanforgeError(f"{run.path} already holds a run; pass --resume to continue it "
                            f"or choose another --out")
    else:
        run.check_new()
    if announce:
        print(announce, flush=True)
    # One process trains into a folder at a time (under torchrun: rank 0 holds it for the job).
    with RunLock(run.path) if is_main_process() else contextlib.nullcontext():
        if is_main_process():
            for tmp in stale_temp_files(run.path) + stale_temp_files(run.samples_dir):
                tmp.unlink()  # half-written by a process killed mid-write; never a user's file
        trainer = Trainer(family, dataset, cfg, run, callbacks=callbacks, progress=progress)
        if resume:
            trainer.resume()
        if trainer.dist.is_main:  # under torchrun only rank 0 writes the run folder
            run.path.mkdir(parents=True, exist_ok=True)
            run.write_config(cfg.to_dict(), dataset.meta(), family.name, precision=trainer.precision.name)
            if not resume:
                run.start_log()
        for cb in callbacks:  # e.g. the health monitor keeps the starting state as its first healthy one
            if hasattr(cb, "start"):
                cb.start(trainer)
        trainer.fit()
    return trainer
