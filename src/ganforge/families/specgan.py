"""`specgan` (Donahue, McAuley & Puckette, ICLR 2019, the paper's second model): a GAN on
spectrogram images of the clips, sampled as audio by Griffin-Lim inversion (nets/specgan.py).

The clips become (1, S, S) images once, at load (S = `--spec-size`, 64: ~1 s at 8 kHz is 64
bands of 62.5 Hz x 64 frames of 16 ms), and from there this is the image GAN: the same nets,
losses and data-derived recipe as dcgan/cgan (families/gan.py), conditional on the labels of
labelled clips. Only sampling differs: the saved generator is G followed by Griffin-Lim, so
`ganforge sample` and `ganforge.load(run).sample(n)` give waveforms like wavegan's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..artifacts.audio import AudioModel
from ..data.audio import DEFAULT_RATE, DEFAULT_SAMPLES, read_audio
from ..data.base import Dataset
from ..io.errors import GanforgeError
from ..nets import build_net
from ..nets.specgan import Spectrogram
from .augment import default_augment
from .base import noise_standing_stats
from .gan import CGAN, CGANOptions, image_defaults
from .options import run_option


@dataclass
class SpecGANOptions(CGANOptions):
    sample_rate: int = DEFAULT_RATE    # clips are resampled to this (Hz)
    clip_samples: int = DEFAULT_SAMPLES  # samples per clip (a multiple of spec_size²)
    spec_size: int = 64                # spectrogram bands = frames: S x S images
    conditional: bool = True           # use the labels of labelled data (class sub-folders)
    griffin_lim: int = run_option(32)  # Griffin-Lim iterations per sample (the paper: 16)


def to_spectrograms(data: Dataset, size: int) -> Dataset:
    """Waveforms (N, 1, L) -> spectrogram images (N, 1, S, S) in [-1, 1], dB below the loudest band."""
    spec = Spectrogram(data.x.shape[-1], size)
    db = torch.cat([spec.power_db(x) for x in data.x.split(256)])
    spec.ref_db = float(db.max())
    x = spec.scale(db)
    info = dict(data.info, spectrogram={"size": size, "ref_db": round(spec.ref_db, 4)})
    return Dataset(data.name, "audio", x, data.labels, data.class_names, info=info)


class SpecGAN(CGAN):
    name = "specgan"
    summary = ("short audio clips as spectrogram images (SpecGAN: image GAN + Griffin-Lim); the default "
               "for audio; DATA: spoken-digits, tones, a folder of .wav")
    Options = SpecGANOptions
    conv_nets = True
    conditional = False  # decided per run: labelled data and --conditional (the default) (__init__)
    next_command = "sample {run} -n 16 --out clips"

    @classmethod
    def defaults(cls, meta: dict) -> dict:
        image = {**meta, "kind": "images"}  # the image recipe for images of this size, count and labels
        labelled = len(meta.get("class_names") or []) >= 2
        base = {**image_defaults(image, conditional=labelled), **default_augment(image)}
        base.pop("upsample", None)  # measured on spectrograms with transposed convs only (audio.md)
        return {**base, "log_every": 50, "sample_every": 500, "ckpt_every": 500}

    @classmethod
    def load_data(cls, spec: str, opts: dict):
        size, length = opts.get("spec_size") or 64, opts.get("clip_samples")
        if size < 8 or size & (size - 1):
            raise GanforgeError(f"--spec-size must be a power of two of at least 8 (e.g. 64), got {size}")
        if length is not None and (length < size * size or length % (size * size)):
            raise GanforgeError(f"--clip-samples must be a multiple of --spec-size² ({size * size}) for "
                                f"{size}x{size} spectrograms (e.g. {-(-length // (size * size)) * size * size}), "
                                f"got {length}")
        return to_spectrograms(read_audio(spec, opts.get("sample_rate"), length), size)

    def __init__(self, cfg, meta: dict):
        if meta.get("kind") != "audio" or "spectrogram" not in meta.get("info", {}):
            raise GanforgeError(f"--model specgan trains on audio (spoken-digits, tones or a folder of .wav "
                                f"files), not {meta.get('kind')}")
        if cfg.image_size is not None:
            raise GanforgeError("--image-size does not apply to specgan; its image size is --spec-size")
        if cfg.griffin_lim < 1:
            raise GanforgeError(f"--griffin-lim must be at least 1, got {cfg.griffin_lim}")
        self.conditional = cfg.conditional and len(meta.get("class_names") or []) >= 2
        self.sample_rate = int(meta["info"]["sample_rate"])
        self.length = int(meta["info"]["clip_samples"])
        self.spectrogram = meta["info"]["spectrogram"]
        super().__init__(cfg, {**meta, "kind": "images"})

    def sampler_info(self) -> dict:
        return {"input": "audio", "z_dim": self.cfg.z_dim, "num_classes": self.num_classes,
                "sample_rate": self.sample_rate}

    def sampling_view(self, net, data, device):
        """G (BatchNorm statistics re-estimated for these weights) followed by Griffin-Lim."""
        noise_standing_stats(net, self.cfg.z_dim, self.num_classes, device)
        spec = {"net": "spec_sampler", "kwargs": {"generator": self.specs["G"]["kwargs"], "length": self.length,
                                                  "size": self.spectrogram["size"],
                                                  "ref_db": self.spectrogram["ref_db"],
                                                  "iterations": self.cfg.griffin_lim}}
        sampler = build_net(spec)
        sampler.generator.load_state_dict(net.state_dict())
        info = dict(self.sampler_info(), family=self.name, net=spec, data=data.meta())
        return AudioModel(sampler.to(device), info, device)

    def preview_png(self, trainer) -> bytes | None:
        """Spectrograms of generated clips (two per class when conditional), after Griffin-Lim."""
        return trainer.generator().preview_png(title=f"step {trainer.step}")
