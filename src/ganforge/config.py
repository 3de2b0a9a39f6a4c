"""Training configuration: one flat dataclass, per-dataset defaults, file loading, resume checks."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import GanforgeError

LOSSES = ("ns", "minimax", "hinge", "wgan-gp", "ls")
ON_PROBLEM = ("warn", "fix", "stop")


@dataclass
class TrainConfig:
    data: str = "ring8"
    model: str | None = None          # vanilla | dcgan | cgan; None -> the dataset's default
    loss: str = "ns"
    preset: str | None = None         # e.g. "seed": the classic 100->128->784 MLP
    steps: int = 2000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1                 # discriminator updates per generator update
    z_dim: int = 64
    hidden: int = 128                 # MLP width
    depth: int = 2                    # MLP hidden layers
    channels: int = 64                # conv base width
    image_size: int | None = None     # folders are resized to this (centre crop + Lanczos)
    gp_weight: float = 10.0           # wgan-gp penalty weight
    r1_gamma: float = 0.0             # R1 on real data; 0 = off
    r1_every: int = 1                 # lazy R1 (StyleGAN2): every k steps with γ·k; same mean penalty
    r1_batch: int = 0                 # R1 on the first k real examples only (own D pass); 0 = whole batch
    spectral_norm: bool = False       # spectral norm on every D layer
    pack: int = 1                     # PacGAN: D judges this many samples at once (1 = off)
    ac_weight: float = 0.0            # > 0: AC-GAN auxiliary classifier head on D (cgan)
    projection: bool = True           # cgan: projection discriminator
    ema_decay: float = 0.999          # EMA of G weights; 0 = off
    sample_filter: bool | None = None  # sampling keeps fakes D scores like real data; None = on for 2D points
    lr_decay: bool = False            # linear decay of both learning rates to 0 over the run
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"           # fp32 | bf16 | fp16 | auto (measured choice: train/precision.py)
    threads: int = 0                  # CPU intra-op threads; 0 = auto (train/perf.py)
    compile: bool = False             # torch.compile the nets; eager + warning where unavailable
    channels_last: bool | None = None  # NHWC conv nets; None = on for fast_path families
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 500
    eval_every: int = 0               # cheap FID/KID/P/R/D/C every K steps into log.jsonl; 0 = off
    eval_n: int = 1000                # samples per training-time evaluation (capped at half the data)
    keep_best: str | None = None      # e.g. "fid": keep the best generator so far in RUN_DIR/best/
    out: str | None = None
    scale: int = 4                    # srgan: upscale factor (2 or 4)
    warmup_steps: int | None = None   # srgan: pixel-loss-only steps before the adversarial loss (None = steps // 4)
    on_problem: str = "warn"          # health monitor: warn | fix (roll back + change) | stop

    # Fields that define *what* is trained: resuming with a different value is an error.
    IDENTITY = ("data", "model", "loss", "preset", "batch_size", "lr_g", "lr_d", "betas",
                "n_critic", "z_dim", "hidden", "depth", "channels", "image_size", "gp_weight",
                "r1_gamma", "r1_every", "r1_batch", "spectral_norm", "pack", "ac_weight", "projection", "ema_decay", "seed")

    IDENTITY += ("scale",)  # image-to-image (srgan)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise GanforgeError(f"unknown config option(s) {', '.join(unknown)}; "
                                f"valid options: {', '.join(sorted(known))}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(float(b) for b in d["betas"])
        return cls(**d)

    def validate(self) -> "TrainConfig":
        if self.loss not in LOSSES:
            raise GanforgeError(f"unknown loss '{self.loss}'; choose one of {', '.join(LOSSES)}")
        for name in ("steps", "batch_size", "n_critic", "r1_every", "z_dim", "hidden", "depth", "channels",
                     "log_every", "sample_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise GanforgeError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise GanforgeError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.r1_batch < 0:
            raise GanforgeError(f"--r1-batch must be 0 (whole batch) or more, got {self.r1_batch}")
        if self.pack < 1 or self.batch_size % self.pack:
            raise GanforgeError(f"--pack {self.pack} must be at least 1 and divide --batch-size "
                                f"{self.batch_size}; pick e.g. --pack 2 or 4 with an even batch size")
        if self.on_problem not in ON_PROBLEM:
            raise GanforgeError(f"--on-problem {self.on_problem} is not valid; choose one of {', '.join(ON_PROBLEM)}")
        if self.precision not in ("fp32", "bf16", "fp16", "auto"):
            raise GanforgeError(f"unknown --precision '{self.precision}'; choose fp32, bf16, fp16 or auto")
        if self.threads < 0:
            raise GanforgeError(f"--threads must be 0 (auto) or more, got {self.threads}")
        if not 0 <= self.ema_decay < 1:
            raise GanforgeError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.image_size is not None and self.image_size < 8:
            raise GanforgeError(f"--image-size must be at least 8, got {self.image_size}")
        return self


# Defaults that train well with no flags (measured in benchmarks/). Keyed by dataset name,
# then by "points"/"images" for user data. Values override the dataclass defaults.
DATASET_DEFAULTS: dict[str, dict] = {
    # 2D mixtures (benchmarks/mixtures.py): a 2-D latent leaves far less latent mass in the
    # transitions between modes than 16-D (HQ 67% -> 92% on ring8), and a small R1 keeps the
    # modes balanced (reverse KL 0.80 -> 0.005). R1's γ scales with the squared data scale:
    # grid25 is 4x wider than ring8, hence 10x the γ.
    # ring8 2,500 steps (was 3,000): with the sample filter (objectives/gan.py) HQ stays at 99%
    # in 44-50 s on 2 idle cores. grid25 at 4,500 steps lost mode balance (rKL 0.05-0.19), so 6,000.
    # ring8: an EMA of 0.999 lags the decaying lr (seed 2: HQ 84% -> 86% at 0.99);
    # Adam betas (0, 0.9) sharpen it further (HQ 90.5% -> 95.2%, mean of seeds 0-2). On grid25
    # the same betas lost 4 modes on seed 2, so grid25 keeps (0.5, 0.999).
    # ring8's R1 on 64 of the 256 real points: 30% less wall time, same HQ (seeds 0-2: 95.0% vs
    # 95.2%); on grid25 it unbalanced the modes (seed 1: 23/25, reverse KL 0.22; 128 rows: seed 0
    # reverse KL 0.074), so not there.
    "ring8": dict(model="vanilla", steps=2500, batch_size=256, lr_g=1e-3, lr_d=1e-3, z_dim=2,
                  hidden=256, depth=3, lr_decay=True, ema_decay=0.99, r1_gamma=1e-3, betas=(0.0, 0.9),
                  r1_batch=64),
    "grid25": dict(model="vanilla", steps=6000, batch_size=256, lr_g=1e-3, lr_d=1e-3, z_dim=2,
                   hidden=256, depth=3, lr_decay=True, ema_decay=0.999, r1_gamma=1e-2),
    "digits": dict(model="dcgan", steps=1500, batch_size=64, channels=64, z_dim=32),
    "mnist5k": dict(model="dcgan", steps=3000, batch_size=64, channels=32, z_dim=64),
    "fashion-mnist": dict(model="dcgan", steps=4000, batch_size=64, channels=32, z_dim=64),
    "points": dict(model="vanilla", steps=3000, batch_size=256, lr_g=1e-3, lr_d=1e-3, z_dim=16,
                   hidden=256, depth=3, lr_decay=True),
    "images": dict(model="dcgan", steps=3000, batch_size=64, channels=32, z_dim=64),
}
BUILTIN_DEFAULT_KEYS = ("ring8", "grid25", "digits", "mnist5k", "fashion-mnist")
# Family-specific adjustments applied after the dataset's (e.g. cgan wants projection D).
MODEL_DEFAULTS: dict[tuple[str, str], dict] = {
    # SNGAN-style recipe (hinge, spectral-norm D, betas (0, 0.9)) plus a light AC-GAN term:
    # >= 95% label accuracy within a 5-minute CPU budget (benchmarks/mnist_cgan.py).
    ("mnist5k", "cgan"): dict(steps=1500, channels=16, loss="hinge", spectral_norm=True,
                              betas=(0.0, 0.9), ac_weight=0.2),
    ("digits", "cgan"): dict(loss="hinge", spectral_norm=True, betas=(0.0, 0.9), ac_weight=0.2),
}
PRESETS: dict[str, dict] = {
    # The classic two-layer MLP GAN of the GAN tutorials: G 100->128->784, D 784->128->1.
    "seed": dict(model="vanilla", z_dim=100, hidden=128, depth=1, ema_decay=0.0),
}


def load_config_file(path: str | Path) -> dict:
    """Read a JSON or YAML config file into a dict of options (no code is executed)."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"config file {path} does not exist; pass an existing .json or .yaml file")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml
            d = yaml.safe_load(text) or {}
        else:
            d = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error is a user error here
        raise GanforgeError(f"cannot parse config file {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(d, dict):
        raise GanforgeError(f"config file {path} must hold a mapping of option: value")
    return d


def resolve(options: dict, dataset_key: str) -> TrainConfig:
    """Merge dataclass defaults < dataset defaults < preset < model defaults < user options."""
    merged: dict = {}
    merged.update(DATASET_DEFAULTS.get(dataset_key, {}))
    preset = options.get("preset")
    if preset is not None:
        if preset not in PRESETS:
            raise GanforgeError(f"unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
        merged.update(PRESETS[preset])
    model = options.get("model") or merged.get("model")
    merged.update(MODEL_DEFAULTS.get((dataset_key, model), {}))
    merged.update({k: v for k, v in options.items() if v is not None})
    merged["model"] = model
    return TrainConfig.from_dict(merged).validate()


def identity_mismatch(saved: dict, new: TrainConfig) -> list[str]:
    """Names of identity fields whose values differ between a saved run and a new config."""
    cur = new.to_dict()
    return [k for k in TrainConfig.IDENTITY if json.dumps(saved.get(k)) != json.dumps(cur.get(k))]
