"""The Python API: `ganforge.train(...)` returns a `Run`; `ganforge.load(run_dir)` the model
object of any run (a noise sampler, an image-to-image model or a table model)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .artifacts.detector import Detector
from .artifacts.image import ImageModel
from .artifacts.noise import Generator
from .artifacts.saved import read_info
from .artifacts.series import SeriesModel
from .data import load_dataset
from .families import family_class
from .families.options import load_config_file, split_lr
from .families.resolve import choose_family, describe, resolve
from .io.checkpoint import read_metadata
from .io.errors import GanforgeError
from .io.rundir import RunDir
from .runner import fit, saved_options


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

    def generator(self, device: str = "cpu"):
        return load(self.path, device)

    def __repr__(self) -> str:
        return f"Run('{self.path}', step={self.step})"


def _default_out(data: str) -> Path:
    """runs/<name>: a built-in name or a folder's name; a file's name keeps its type
    (`faces.npz` -> runs/faces-npz), so a folder `faces/` and `faces.npz` get different runs."""
    path = Path(data)
    name = path.name if path.is_dir() else f"{path.stem}-{path.suffix[1:]}" if path.is_file() and path.suffix else data
    return Path("runs") / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run")


def train(data: str = "ring8", model: str | None = None, out: str | Path | None = None,
          resume: bool = False, config: str | Path | dict | None = None, progress: bool = True,
          callbacks=(), quiet: bool | None = None, unconditional: bool = False, **options) -> Run:
    """Train a GAN on `data` (built-in name, image folder or .npz) and return its Run.

    Without `model` the data decides: 2D points train `vanilla`, labelled images (2+ classes)
    the conditional `cgan` (`unconditional=True`: `dcgan`), other images `dcgan`.

    Options are the chosen family's (see `ganforge train --help`: steps, batch_size, lr_g, lr_d,
    loss, seed, ...); `lr` sets both learning rates; `config` is a dict or a JSON/YAML file of
    options. Unset options take the family's defaults for the data. `resume=True` continues the
    run in `out` with its saved options; options given now may extend it (`steps`) or change
    how it runs, but not what it trains.
    """
    opts: dict = {}
    if config is not None:
        opts.update(split_lr(config if isinstance(config, dict) else load_config_file(config)))
    opts.update({k: v for k, v in split_lr(options).items() if v is not None})
    if quiet is not None:
        progress = not quiet
    if model is not None:
        opts["model"] = model
    opts["data"] = str(data)
    if opts.get("minutes") is not None and opts.get("steps") is not None:
        raise GanforgeError("give --steps or --minutes, not both")
    run = RunDir(Path(out) if out is not None else Path(opts["out"]) if opts.get("out") else _default_out(str(data)))
    opts["out"] = str(run.path)
    if resume:
        saved_family = family_class(read_metadata(run.checkpoint_path)["config"]["model"]
                                    if run.has_checkpoint() else opts.get("model") or "vanilla")
        saved = saved_options(run, saved_family)
        if opts.get("model", saved["model"]) != saved["model"]:
            raise GanforgeError(f"cannot resume {run.path}: it trains --model {saved['model']}, "
                                f"not {opts['model']}; drop --model or use another --out")
        saved.pop("minutes", None)  # a budget is for one session: --resume --minutes M gives M more
        if opts.get("minutes") is not None:
            saved.pop("steps", None)
        opts = {**saved, **opts}
    family = choose_family(opts.get("model"), opts.get("preset"), str(data), _builtin_kind(str(data)),
                           unconditional=unconditional)
    chosen = family is None or (opts.get("model") is None and opts.get("preset") is None)
    if family is not None:  # refuse an option it does not use before reading any data
        family.Options.refuse_unknown(opts, family.name)
    if family is not None and family.load_data is not None:  # own data (image-to-image crops)
        dataset = family.load_data(str(data), opts)
    else:
        dataset = load_dataset(str(data), opts.get("image_size"))
    if family is None:  # what the data is decides: its kind, and labels for images
        family = choose_family(None, None, str(data), dataset.kind, labelled=dataset.num_classes >= 2,
                               unconditional=unconditional)
        if getattr(family, "conditional", False):
            try:
                family.Options.refuse_unknown(opts, family.name)
            except GanforgeError as e:
                raise GanforgeError(f"{e}; {dataset.name} is labelled, so it trains cgan: "
                                    f"add --unconditional to train dcgan") from None
    if unconditional and "conditional" in family.Options.names():  # e.g. stylegan: labels not used
        opts["conditional"] = False
    cfg = resolve(family, opts, dataset.meta(), str(data))
    # the first line: what trains on what, and why (printed once the family accepts the data)
    announce = (describe(family, dataset.meta(), chosen and not resume)
                if progress and os.environ.get("RANK", "0") == "0" else None)
    fit(family, dataset, cfg, run.path, resume=resume, callbacks=callbacks, progress=progress, announce=announce)
    return Run(run.path)


def _builtin_kind(data: str) -> str | None:
    """The kind of a built-in set, or "audio" for a folder of .wav clips (known before reading)."""
    from .data.registry import builtin
    entry = builtin(data)
    if entry is None and Path(data).is_dir() and next(Path(data).rglob("*.[wW][aA][vV]"), None) is not None:
        return "audio"
    return entry.kind if entry is not None else None


def load(run_dir: str | Path, device: str = "cpu"):
    """The trained model of any run folder, for use without training code (no pickle):
    a `Generator` (noise in: `.sample(n)`), an `ImageModel` (`.translate/.upscale/.colorize/
    .inpaint`), a `TabularGAN` (`.sample(n)`), a `SeriesModel` (`.sample(n)`: time series) or an
    `AudioModel` (`.sample(n)`: audio clips)."""
    kind = read_info(run_dir)["input"]
    if kind == "image":
        return ImageModel.load(run_dir, device)
    if kind == "text":
        from .artifacts.text import TextToImage
        return TextToImage.load(run_dir, device)
    if kind == "table":
        from .tabular.model import TabularGAN
        return TabularGAN.load(run_dir, device)
    if kind == "series":
        return SeriesModel.load(run_dir, device)
    if kind == "audio":  # waveforms (`.sample(n)`, `.write("clips")`: WAV files)
        from .artifacts.audio import AudioModel
        return AudioModel.load(run_dir, device)
    if kind == "anomaly":  # an anomaly detector (`.scores(x)`; ganforge.anomaly.score for files)
        return Detector.load(run_dir, device)
    return Generator.load(run_dir, device)


__all__ = ["train", "load", "Run"]
