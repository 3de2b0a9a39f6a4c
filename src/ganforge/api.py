"""The Python API: `ganforge.train(...)` returns a `Run`; `ganforge.load(run_dir)` a Generator."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from .config import BUILTIN_DEFAULT_KEYS, TrainConfig, identity_mismatch, load_config_file, resolve
from .data import load_dataset
from .errors import GanforgeError
from .objectives import build_family, family_class
from .sampling import Generator
from .train.checkpoint import read_metadata
from .train.loop import Trainer
from .train.run import RunDir


class Run:
    """A run directory on disk: its config, log and generator."""

    def __init__(self, path: str | Path):
        self.dir = RunDir(path)
        if not self.dir.config_path.exists():
            raise GanforgeError(f"{path} is not a ganforge run (no config.json); "
                                f"pass the --out folder of `ganforge train`")

    path = property(lambda self: self.dir.path)
    config = property(lambda self: self.dir.read_config())
    log = property(lambda self: self.dir.read_log())

    @property
    def step(self) -> int:
        if not self.dir.has_checkpoint():
            return 0
        return int(read_metadata(self.dir.checkpoint_path)["step"])

    def generator(self, device: str = "cpu") -> Generator:
        return Generator.load(self.path, device)

    def __repr__(self) -> str:
        return f"Run('{self.path}', step={self.step})"


def _default_out(data: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(data).stem if Path(data).exists() else data)
    return Path("runs") / (name or "run")


def train(data: str = "ring8", model: str | None = None, out: str | Path | None = None,
          resume: bool = False, config: str | Path | dict | None = None, progress: bool = True,
          callbacks=(), **options) -> Run:
    """Train a GAN on `data` (built-in name, image folder or .npz) and return its Run.

    Options are TrainConfig fields (steps, batch_size, lr_g, lr_d, loss, seed, ...); `lr` sets
    both learning rates. Unset options take the dataset's defaults (ganforge.config).
    """
    opts: dict = {}
    if config is not None:
        opts.update(config if isinstance(config, dict) else load_config_file(config))
    if "lr" in options:
        lr = options.pop("lr")
        for k in ("lr_g", "lr_d"):
            if lr is not None and options.get(k) is None:
                options[k] = lr
    opts.update({k: v for k, v in options.items() if v is not None})
    opts["data"] = str(data)
    if model is not None:
        opts["model"] = model
    if out is not None:
        opts["out"] = str(out)
    fam_cls = family_class(opts.get("model"))
    if hasattr(fam_cls, "load_data"):  # families with their own data (image-to-image crops)
        opts = {**fam_cls.defaults, **opts}
        dataset = fam_cls.load_data(str(data), opts)
    else:
        dataset = load_dataset(str(data), opts.get("image_size"))
    key = str(data) if str(data) in BUILTIN_DEFAULT_KEYS else dataset.kind
    cfg = resolve(opts, key)
    if cfg.eval_every or cfg.keep_best:  # training-time metrics (checks its options first)
        from .metrics.callback import EvalCallback
        callbacks = [*callbacks, EvalCallback(dataset, cfg)]
    from .monitor import HealthMonitor  # first: it must see non-finite numbers before the others
    callbacks = [HealthMonitor(dataset, cfg), *callbacks]
    torch.manual_seed(cfg.seed)
    family = build_family(cfg, dataset.meta())  # validates model x data before touching disk
    run = RunDir(Path(cfg.out) if cfg.out else _default_out(str(data)))
    if resume:
        if not run.has_checkpoint():
            raise GanforgeError(f"nothing to resume in {run.path} (no checkpoint); drop --resume to start it")
        saved = read_metadata(run.checkpoint_path)["config"]
        diff = identity_mismatch(saved, cfg)
        if diff:
            k = diff[0]
            raise GanforgeError(f"cannot resume {run.path}: it was trained with {k}={saved.get(k)!r}, "
                                f"not {getattr(cfg, k)!r}; use the same options or another --out")
    elif run.has_checkpoint():
        raise GanforgeError(f"{run.path} already holds a run; pass --resume to continue it "
                            f"or choose another --out")
    trainer = Trainer(family, dataset, cfg, run, callbacks=callbacks, progress=progress)
    if resume:
        trainer.resume()
    if trainer.dist.is_main:  # under torchrun only rank 0 writes the run folder
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(cfg.to_dict(), dataset.meta(), family.name, precision=trainer.precision.name)
    for cb in callbacks:  # e.g. the health monitor keeps the starting state as its first healthy one
        if hasattr(cb, "start"):
            cb.start(trainer)
    trainer.fit()
    return Run(run.path)


def load(run_dir: str | Path, device: str = "cpu") -> Generator:
    """Load a trained generator for sampling only (no training code, no pickle)."""
    return Generator.load(run_dir, device)


__all__ = ["train", "load", "Run", "TrainConfig"]
