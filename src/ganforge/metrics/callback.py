"""Cheap evaluation during training (`--eval-every K`): FID, KID, precision/recall and
density/coverage on a small subset (`--eval-n`, default 1,000) of images or points; for time
series TimeGAN's discriminative score (two post-hoc GRU judges, metrics/timeseries.py). Logged
to log.jsonl as `eval_*` records so the report can draw metric curves; optional `--keep-best
METRIC` saves the best generator so far to RUN_DIR/best/ (loadable with `ganforge sample
RUN_DIR/best`).

The real features and the real-vs-real floor are computed once; every evaluation samples the
same latent codes, so the curve moves only because the generator does. Sampling uses its own
random generator: training randomness (and so `--resume`) is untouched.
"""
from __future__ import annotations

import json
import time

import numpy as np
import torch

from ..io.checkpoint import atomic_write_text
from ..io.errors import GanforgeError
from . import extractors
from .evaluate import METRICS, core_metrics, real_halves
from .timeseries import discriminative_score

CHEAP = ("fid", "kid", "precision", "recall", "density", "coverage", "modes")
SERIES_CHEAP = ("discriminative",)
JUDGE_SEEDS = (10_001, 10_002)  # the series judges' own seeds (a benchmark's post-hoc GRU uses the run's seed)
JUDGE_ITERATIONS = 1000          # Adam steps per judge, as benchmarks/timeseries.py's (~5 s each on one core)


def _series_judge(real, real_lengths, fake, fake_lengths) -> float:
    """TimeGAN's discriminative score (metrics/timeseries.py) averaged over two post-hoc GRUs of
    their own seeds (called inside `fork_rng`: their seeding leaves training's random stream alone).
    A linear judge was measured first and rejected: on S&P 500 it told TimeGAN's windows from real
    ones at 86-100% accuracy at every checkpoint, so it could not rank them (Spearman -0.2 / 0.3
    against the GRU's score over 16 checkpoints of two runs)."""
    return float(np.mean([discriminative_score(real, fake, real_lengths, fake_lengths, seed=s,
                                               iterations=JUDGE_ITERATIONS) for s in JUDGE_SEEDS]))


def check_options(cfg) -> None:
    """User errors in --eval-every / --eval-n / --keep-best, raised before anything is written."""
    if cfg.eval_every < 0:
        raise GanforgeError(f"--eval-every must be 0 (off) or a number of steps, got {cfg.eval_every}")
    if cfg.eval_n < 20:
        raise GanforgeError(f"--eval-n must be at least 20, got {cfg.eval_n}")
    if cfg.keep_best is not None and not cfg.eval_every:  # which metrics: by the data (EvalCallback)
        raise GanforgeError("--keep-best needs evaluations during training; add --eval-every K")


class EvalCallback:
    """cb(trainer, record) at every log step; evaluates when `eval_every` steps have passed."""

    def __init__(self, dataset, cfg):
        check_options(cfg)
        if dataset.kind not in ("images", "points", "series"):
            raise GanforgeError(f"--eval-every works on images, 2D points and time series, not {dataset.kind} "
                                f"data; drop --eval-every/--keep-best")
        kind_metrics = SERIES_CHEAP if dataset.kind == "series" else CHEAP
        if cfg.keep_best is not None and cfg.keep_best not in kind_metrics:
            raise GanforgeError(f"--keep-best {cfg.keep_best} is not a training-time metric on {dataset.kind} "
                                f"data; choose one of {', '.join(kind_metrics)}")
        self.data, self.cfg = dataset, cfg
        self.next_step, self.ready = cfg.eval_every, False
        self.best = None

    def _prepare(self, run_dir) -> None:
        if self.data.kind == "series":  # no feature extractor: the post-hoc GRU judge reads the windows
            from .series_evaluate import real_window_halves
            self.n = min(self.cfg.eval_n, len(self.data.x) // 2)
            xa, la, xb, lb = real_window_halves(self.data, self.n, seed=10_000)
            self.real = (xa, la)
            self.floor, self.ready = _series_judge(xa, la, xb, lb), True
            return
        (xa, ya, xb, _), self.n, _ = real_halves(self.data, self.cfg.eval_n, seed=0)
        self.ext = extractors.choose(self.data, run_dir)
        self.fa, self.fb = self.ext(xa)[0], self.ext(xb)[0]
        self.labels, self.xb = ya, xb
        self.means = self.data.info.get("means") if self.data.kind == "points" else None
        self.ready = True

    def __call__(self, trainer, record: dict) -> None:
        step, cfg = trainer.step, self.cfg
        if (step < self.next_step or step < trainer.family.eval_from) and step != cfg.steps:
            return
        self.next_step = (step // cfg.eval_every + 1) * cfg.eval_every
        t0 = time.time()
        # building a sampling view may initialise nets (timegan's sampler) and judges seed
        # themselves: inside fork_rng, so training's random stream is as without evaluations
        cuda = [trainer.device] if trainer.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            if not self.ready:
                self._prepare(trainer.run.path)
            gen = trainer.generator()  # a sampling view: live nets and their modes are untouched
            if self.data.kind == "series":
                vals = {"discriminative": (_series_judge(*self.real, *gen.sample_tensor(self.n, seed=4242)),
                                           self.floor)}
            else:
                vals = self._image_metrics(gen)
        rec = {"step": step, "eval_n": self.n,
               "eval_extractor": "post-hoc GRU judges" if self.data.kind == "series" else self.ext.name}
        for k, (v, floor) in vals.items():
            rec[f"eval_{k}"], rec[f"eval_{k}_floor"] = v, floor
        rec["eval_s"] = round(time.time() - t0, 2)
        if cfg.keep_best:
            self._keep_best(trainer, gen, rec)
        trainer.run.log(rec)

    def _image_metrics(self, gen) -> dict:
        x, _ = gen.sample_tensor(self.n, labels=self.labels if gen.num_classes else None, seed=4242)
        if self.data.kind == "images":
            x = ((x.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
        vals = core_metrics(self.fa, self.fb, self.ext(x)[0], kid_subsets=10)
        if self.means is not None:
            from .modes import mode_stats
            sd = self.data.info["sd"]
            vals["modes"] = (mode_stats(x.numpy(), np.array(self.means), sd)["modes"],
                             mode_stats(self.xb.numpy(), np.array(self.means), sd)["modes"])
        return vals

    def _keep_best(self, trainer, gen, rec: dict) -> None:
        key = cfg_key = self.cfg.keep_best
        value = rec.get(f"eval_{key}")
        if value is None:
            return
        lower = METRICS[cfg_key][1] == "lower"
        if self.best is None:  # resumed runs: continue from the saved best
            path = trainer.run.path / "best" / "best.json"
            self.best = json.loads(path.read_text())["value"] if path.exists() else None
        if self.best is not None and (value >= self.best if lower else value <= self.best):
            return
        self.best = value
        folder = trainer.run.path / "best"
        gen.save(folder)
        atomic_write_text(folder / "best.json", json.dumps(
            {"metric": key, "value": value, "step": rec["step"],
             "protocol": f"{rec['eval_extractor']}{'' if self.data.kind == 'series' else ' features'}, {self.n} generated vs {self.n} real (training-time subset)"},
            indent=2))
        rec["eval_best"] = True
