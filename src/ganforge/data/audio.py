"""Short audio clips as waveforms: (N, 1, L) float32 in [-1, 1] at one sample rate, with labels
when the clips sit in class sub-folders.

Sources (`read_audio`):
- a folder of .wav files: flat (unlabelled) or one sub-folder per class (the label is the
  sub-folder's name); read with scipy.io.wavfile (PCM 8/16/24/32-bit or float WAV);
- built-in `spoken-digits` (synthetic speech, data/speech.py) and `tones` (pure tones, below).

Handling, stated in the data's info: several channels are mixed to mono by their mean; another
sample rate is resampled explicitly with scipy.signal.resample_poly (polyphase, anti-aliased);
levels are kept (no normalisation). Pad/crop policy: a shorter clip is centred in silence; a
longer one is cut to its loudest window of L samples (the most energy), so a word inside a long
recording is kept whole rather than its first second. Hidden files (.*) are skipped; any other
non-WAV file, an unreadable WAV or an empty folder is a one-line error.
"""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import torch

from ..io.errors import GanforgeError
from .base import Dataset

DEFAULT_RATE = 8000      # Hz; see families/wavegan.py for why 8 kHz and 8,192 samples on a CPU
DEFAULT_SAMPLES = 8192
TONE_HZ = (220, 330, 440, 660, 880, 1320)  # built-in `tones`: one class per pitch


def to_float(x: np.ndarray) -> np.ndarray:
    """WAV sample values -> float32 in [-1, 1] (integer PCM by its full scale; float as is)."""
    if x.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        return (x.astype(np.float32) - 128) / 128
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / float(-np.iinfo(x.dtype).min))
    return np.clip(x.astype(np.float32), -1, 1)


def read_wav(path: Path, rate: int) -> np.ndarray:
    """One WAV file -> mono float32 at `rate` Hz (mean of channels, then polyphase resampling)."""
    return _read_wav(path, rate)[0]


def _read_wav(path: Path, rate: int) -> tuple[np.ndarray, int, int]:
    """(mono float32 at `rate`, the file's own rate, its channel count)."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly
    try:
        sr, x = wavfile.read(path)
    except (ValueError, OSError, EOFError) as e:
        raise GanforgeError(f"cannot read {path} as WAV ({str(e).splitlines()[0][:100]}); "
                            f"re-export it as PCM WAV or remove it") from None
    if x.size == 0:
        raise GanforgeError(f"{path} holds no samples; remove it")
    channels = x.shape[1] if x.ndim == 2 else 1
    x = to_float(x)
    if x.ndim == 2:
        x = x.mean(1)
    if sr != rate:
        g = gcd(int(sr), int(rate))
        x = resample_poly(x, rate // g, int(sr) // g).astype(np.float32)
    return x, int(sr), channels


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Centre a short clip in silence; cut a long one to its loudest window of `length`."""
    if len(x) < length:
        left = (length - len(x)) // 2
        return np.pad(x, (left, length - len(x) - left))
    if len(x) > length:
        energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
        start = int(np.argmax(energy[length:] - energy[:-length]))
        return x[start:start + length]
    return x


def write_wav(path: Path, x: np.ndarray, rate: int) -> None:
    """float [-1, 1] -> 16-bit PCM WAV (the format every player reads)."""
    from scipy.io import wavfile
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
    wavfile.write(path, rate, pcm)


def _wav_files(root: Path) -> tuple[list[Path], list[str] | None]:
    """The folder's WAV files and their class names (None: flat, unlabelled)."""
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    if not entries:
        raise GanforgeError(f"folder {root} is empty; put .wav files in it (or one sub-folder of them per class)")
    dirs, files = [p for p in entries if p.is_dir()], [p for p in entries if p.is_file()]
    if dirs and files:
        raise GanforgeError(f"folder {root} mixes files ({files[0].name}) and class sub-folders ({dirs[0].name}); "
                            f"put every clip in a class sub-folder, or none")
    groups = [(d, sorted(p for p in d.iterdir() if not p.name.startswith("."))) for d in dirs] or [(root, files)]
    paths, labels = [], []
    for folder, items in groups:
        for p in items:
            if p.is_dir() or p.suffix.lower() != ".wav":
                raise GanforgeError(f"{p} is not a .wav file; ganforge reads WAV clips only: convert it "
                                    f"(e.g. ffmpeg -i '{p.name}' '{p.stem}.wav') or move it out of {root}")
            paths.append(p)
            labels.append(folder.name)
        if not items:
            raise GanforgeError(f"class folder {folder} is empty; put its .wav clips in it or remove it")
    return paths, (labels if dirs else None)


def read_folder(root: Path, rate: int, length: int) -> Dataset:
    paths, labels = _wav_files(root)
    clips, cut, padded, rates, multi = [], 0, 0, set(), 0
    for p in paths:
        x, sr, channels = _read_wav(p, rate)
        rates.add(sr)
        multi += channels > 1
        cut += len(x) > length
        padded += len(x) < length
        clips.append(fit_length(x, length))
    class_names = sorted(set(labels)) if labels else []
    y = torch.tensor([class_names.index(c) for c in labels]) if labels else None
    info = {"source": f"WAV folder {root.name}", "sample_rate": rate, "clip_samples": length,
            "file_rates": sorted(rates), "stereo_mixed": int(multi),
            "handling": (f"{padded} shorter clip(s) centred in silence, {cut} longer cut to their loudest "
                         f"{length / rate:.3g} s; resampled with resample_poly where the rate differed")}
    return _dataset(root.name, np.stack(clips), y, class_names, info)


def tones(n_per: int = 64, rate: int = DEFAULT_RATE, length: int = DEFAULT_SAMPLES, seed: int = 0) -> Dataset:
    """Built-in `tones`: pure sines, one class per pitch in TONE_HZ, random phase and level
    (0.3-0.8), a short fade in and out: a set where 'did it learn' is one frequency reading."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / rate
    ramp = np.minimum(1, np.minimum(np.arange(length), np.arange(length)[::-1]) / (0.02 * rate))
    xs, ys = [], []
    for k, f in enumerate(TONE_HZ):
        phase, level = rng.uniform(0, 2 * np.pi, n_per), rng.uniform(0.3, 0.8, n_per)
        xs.append(level[:, None] * np.sin(2 * np.pi * f * t[None] + phase[:, None]) * ramp)
        ys += [k] * n_per
    info = {"source": f"pure tones {', '.join(map(str, TONE_HZ))} Hz, random phase and level",
            "sample_rate": rate, "clip_samples": length}
    return _dataset("tones", np.concatenate(xs), torch.tensor(ys), [f"{f}Hz" for f in TONE_HZ], info)


def read_audio(spec: str, rate: int | None = None, length: int | None = None) -> Dataset:
    """A built-in name or a folder of WAV files -> clips (N, 1, length) at `rate` Hz."""
    from . import registry
    rate, length = rate or DEFAULT_RATE, length or DEFAULT_SAMPLES
    if rate < 1000:
        raise GanforgeError(f"--sample-rate must be at least 1000 Hz, got {rate}")
    registry.builtin_of_kind(spec, "audio", "audio", "a folder of .wav files")
    if spec == "tones":
        return tones(rate=rate, length=length)
    if spec == "spoken-digits":
        from .speech import spoken_digits
        x, y, info = spoken_digits(rate, length)
        return _dataset(spec, x, torch.from_numpy(y), [str(i) for i in range(10)], info)
    path = Path(spec)
    if path.is_file() and path.suffix.lower() == ".wav":
        raise GanforgeError(f"{path} is one clip; a GAN needs many: pass the folder of .wav files")
    if not path.is_dir():
        raise GanforgeError(f"cannot read '{spec}' as audio: pass a folder of .wav files or a built-in name "
                            f"({', '.join(registry.names('audio'))})")
    return read_folder(path, rate, length)


def _dataset(name: str, x: np.ndarray, y, class_names: list[str], info: dict) -> Dataset:
    if len(x) < 2:
        raise GanforgeError(f"{name} holds {len(x)} clip(s); a GAN needs many (hundreds): add clips")
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).unsqueeze(1)
    if y is None or len(class_names) < 2:  # one class folder: unlabelled
        y, class_names = None, []
    return Dataset(name, "audio", x, y, class_names, info=info)
