"""Run options: the common ones every family takes (`RunOptions`), extended by each family's own
`Options` dataclass (in its file). An option a family does not declare is refused.

Resume identity is derived, not listed: every field changes what is trained unless its
metadata marks it `run` (how or how long to run: device, threads, logging, evaluation, steps).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..io.errors import GanforgeError

LOSSES = ("ns", "minimax", "hinge", "wgan-gp", "ls")
# A testing aid, read here only: caps every run's steps (`make test` runs the README's commands
# with it). Not for real runs: a capped run is saved with the capped step count.
MAX_STEPS_ENV = "GANFORGE_MAX_STEPS"
ON_PROBLEM = ("warn", "fix", "stop")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")


def run_option(default, **kw):
    """A field that says how (or how long) to run, not what is trained: outside resume identity."""
    return field(default=default, metadata={"run": True}, **kw)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass
class RunOptions:
    """Options of every family. Subclasses add theirs (see families/gan.py)."""
    data: str = "ring8"
    model: str | None = None
    steps: int = run_option(2000)     # a run can be extended with --resume --steps N
    minutes: float | None = run_option(None)  # train this long instead: steps from the measured speed
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas of both nets (the families' recipes set their own)
    lr_decay: bool = False            # linear decay of both learning rates to 0 over the run
    seed: int = 0
    device: str = run_option("auto")
    precision: str = run_option("auto")          # fp32 | bf16 | fp16 | auto (engine/precision.py)
    threads: int = run_option(0)                 # CPU intra-op threads; 0 = auto (engine/perf.py)
    compile: bool = run_option(False)            # torch.compile the nets; eager where unavailable
    channels_last: bool | None = run_option(None)  # NHWC conv nets; None = on for fast_path families
    log_every: int = run_option(50)
    sample_every: int = run_option(500)
    ckpt_every: int = run_option(500)
    eval_every: int = run_option(0)              # cheap FID/KID/P/R/D/C every K steps; 0 = off
    eval_n: int = run_option(1000)               # samples per training-time evaluation
    keep_best: str | None = run_option(None)     # e.g. "fid": best generator so far in RUN/best/
    out: str | None = run_option(None)
    on_problem: str = run_option("warn")         # health monitor: warn | fix | stop

    # ---- the family's view -----------------------------------------------------------------
    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def own_names(cls) -> list[str]:
        """The options a family adds to the common ones (for help and error messages)."""
        common = {f.name for f in fields(RunOptions)}
        return [n for n in cls.names() if n not in common]

    @classmethod
    def identity(cls) -> list[str]:
        """Fields that define what is trained: resuming with another value is refused."""
        return [f.name for f in fields(cls) if not f.metadata.get("run")]

    def has(self, name: str) -> bool:
        return name in self.names()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def refuse_unknown(cls, d: dict, family: str | None = None) -> None:
        unknown = sorted(k for k, v in d.items() if k not in cls.names() and v is not None)
        if unknown:
            who = f"--model {family}" if family else "this run"
            raise GanforgeError(f"{', '.join(flag(k) for k in unknown)} is not an option of {who}; "
                                f"its own options are: {', '.join(flag(k) for k in cls.own_names()) or 'none'} "
                                f"(see `ganforge train --help`)")

    @classmethod
    def from_dict(cls, d: dict, family: str | None = None) -> "RunOptions":
        cls.refuse_unknown(d, family)
        d = {k: v for k, v in d.items() if k in cls.names()}  # an unknown option set to None is unset
        if "betas" in d:
            try:
                d["betas"] = tuple(float(b) for b in d["betas"])
            except (TypeError, ValueError):
                raise GanforgeError(f"betas must be two numbers, e.g. [0.5, 0.999], got {d['betas']!r}") from None
            if len(d["betas"]) != 2 or not all(0 <= b < 1 for b in d["betas"]):
                raise GanforgeError(f"betas must be two numbers in [0, 1), e.g. [0.5, 0.999], got {list(d['betas'])}")
        return cls(**_check_types(cls, d))

    def validate(self, losses: tuple[str, ...] = LOSSES) -> "RunOptions":
        self.steps = capped_steps(self.steps)
        if self.has("loss") and self.loss not in losses:
            raise GanforgeError(f"--model {self.model} does not take --loss {self.loss}; "
                                f"choose one of {', '.join(losses)}")
        for name in ("steps", "batch_size", "n_critic", "r1_every", "z_dim", "hidden", "depth", "channels",
                     "log_every", "sample_every", "ckpt_every"):
            if self.has(name) and getattr(self, name) < 1:
                raise GanforgeError(f"{flag(name)} must be at least 1, got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise GanforgeError(f"{flag(name)} must be positive, got {getattr(self, name)}")
        for name in ("r1_batch", "r1_gamma", "gp_weight", "ac_weight", "threads", "eval_every", "mbstd"):
            if self.has(name) and getattr(self, name) < 0:
                raise GanforgeError(f"{flag(name)} must be 0 or more, got {getattr(self, name)}")
        if self.has("pack") and (self.pack < 1 or self.batch_size % self.pack):
            raise GanforgeError(f"--pack {self.pack} must be at least 1 and divide --batch-size "
                                f"{self.batch_size}; pick e.g. --pack 2 or 4 with an even batch size")
        if self.minutes is not None and not self.minutes > 0:
            raise GanforgeError(f"--minutes must be positive, got {self.minutes}")
        if self.on_problem not in ON_PROBLEM:
            raise GanforgeError(f"--on-problem {self.on_problem} is not valid; choose one of {', '.join(ON_PROBLEM)}")
        if self.precision not in PRECISIONS:
            raise GanforgeError(f"unknown --precision '{self.precision}'; choose fp32, bf16, fp16 or auto")
        if self.has("ema_decay") and not 0 <= self.ema_decay < 1:
            raise GanforgeError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if self.has("image_size") and self.image_size is not None and self.image_size < 8:
            raise GanforgeError(f"--image-size must be at least 8, got {self.image_size}")
        return self


def capped_steps(steps):
    """`steps`, at most $GANFORGE_MAX_STEPS when that is set (see MAX_STEPS_ENV)."""
    cap = os.environ.get(MAX_STEPS_ENV)
    if not cap or not isinstance(steps, int):
        return steps
    if not cap.isdigit() or int(cap) < 1:
        raise GanforgeError(f"{MAX_STEPS_ENV}={cap!r} must be a whole number of steps, at least 1; unset it for real runs")
    return min(steps, int(cap))


def _check_types(cls, d: dict) -> dict:
    """Config files and the API can pass any JSON value: refuse a wrong type in one line.
    YAML reads `2e-4` as text (it wants `2.0e-4`), so numeric text is taken for a float."""
    hints = {f.name: str(f.type) for f in fields(cls)}
    d = dict(d)
    for k, v in d.items():
        t = hints[k]
        if v is None:
            if "None" not in t:
                raise GanforgeError(f"option {k} cannot be empty (null)")
            continue
        if t.startswith("bool"):
            ok = isinstance(v, bool)
        elif t.startswith("int"):
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif t.startswith("float"):
            if isinstance(v, str):
                try:
                    v = d[k] = float(v)
                except ValueError:
                    pass
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))
        elif t.startswith("str"):
            ok = isinstance(v, str)
        else:
            ok = True
        if not ok:
            want = "a finite number" if t.startswith("float") and isinstance(v, float) else t.split(" |")[0]
            raise GanforgeError(f"option {k} must be {want}, got {v!r}")
    return d


def load_config_file(path: str | Path) -> dict:
    """Read a JSON or YAML config file into a dict of options (no code is executed)."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"config file {path} does not exist; pass an existing .json or .yaml file")
    try:
        text = path.read_bytes().decode("utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml
            d = yaml.safe_load(text) or {}
        else:
            d = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error is a user error here
        raise GanforgeError(f"cannot parse config file {path}: "
                            f"{(str(e).splitlines() or [type(e).__name__])[0]}") from None
    if not isinstance(d, dict):
        raise GanforgeError(f"config file {path} must hold a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in d.items()}


def split_lr(options: dict) -> dict:
    """`lr` sets both learning rates (unless lr_g / lr_d are given too)."""
    options = dict(options)
    lr = options.pop("lr", None)
    if lr is not None:
        for k in ("lr_g", "lr_d"):
            if options.get(k) is None:
                options[k] = lr
    return options


def identity_mismatch(saved: dict, new: RunOptions) -> list[str]:
    """Identity fields whose values differ between a saved run's config and a new one."""
    cur = new.to_dict()
    return [k for k in new.identity() if k in saved and json.dumps(saved.get(k)) != json.dumps(cur.get(k))]
