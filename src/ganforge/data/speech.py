"""Built-in `spoken-digits`: the words "zero" ... "nine" rendered offline by the espeak-ng speech
synthesizer (Debian package `espeak-ng`), in VOICES x SPEEDS x PITCHES = 90 versions per word.

This is synthetic speech, not recordings of people: far more regular than SC09 (the WaveGAN
paper's spoken digits), so scores on it say how well a model learns these words, not speech.
Rendered once (about half a minute) into the user cache ($GANFORGE_CACHE, default
~/.cache/ganforge) at espeak-ng's own 22,050 Hz with leading and trailing silence trimmed;
each use resamples and centres the clips (data/audio.py's policy).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng voices: an English accent + a voice variant (male m*, female f*), ten in all
VOICES = ("en-us", "en-us+f2", "en-gb", "en-gb+f4", "en-gb-scotland+m3", "en-029+f1", "en-gb-x-rp+m7",
          "en-us-nyc+f5", "en-gb-x-gbclan+m2", "en-us+klatt")
SPEEDS = (130, 160, 190)   # words per minute (espeak-ng -s; its default is 175)
PITCHES = (25, 50, 75)     # 0..99 (espeak-ng -p; default 50)
NATIVE_RATE = 22050        # espeak-ng's output rate
CACHE_NAME = "spoken-digits-v1.npz"


def cache_path() -> Path:
    return Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge") / CACHE_NAME


def _trim(x: np.ndarray, margin: int = NATIVE_RATE // 50) -> np.ndarray:
    """Drop leading and trailing silence (below 2% of the peak), keeping a 20 ms margin."""
    loud = np.flatnonzero(np.abs(x) > 0.02 * np.abs(x).max())
    return x[max(0, loud[0] - margin):loud[-1] + margin + 1] if len(loud) else x


def _render(job: tuple[str, str, int, int], folder: str) -> np.ndarray:
    from scipy.io import wavfile
    word, voice, speed, pitch = job
    path = Path(folder) / f"{word}-{voice.replace('+', '_')}-{speed}-{pitch}.wav"
    proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), word],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or not path.exists():
        raise GanforgeError(f"espeak-ng failed on {word!r} with voice {voice} ({proc.stderr.strip()[:100]}); "
                            f"reinstall it: apt-get install espeak-ng")
    sr, x = wavfile.read(path)
    if sr != NATIVE_RATE:
        raise GanforgeError(f"espeak-ng wrote {sr} Hz, expected {NATIVE_RATE}; this version is not supported")
    return _trim(x.astype(np.int16))


def build(path: Path) -> None:
    """Render every (word, voice, speed, pitch) and write the cache file atomically."""
    if shutil.which("espeak-ng") is None:
        raise GanforgeError("built-in 'spoken-digits' is rendered by the espeak-ng speech synthesizer; "
                            "install it: apt-get install espeak-ng (Debian/Ubuntu) or brew install espeak-ng")
    jobs = [(w, v, s, p) for w in WORDS for v in VOICES for s in SPEEDS for p in PITCHES]
    print(f"spoken-digits: rendering {len(jobs)} clips with espeak-ng into {path} (first use only)",
          file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(4) as pool:
        clips = list(pool.map(lambda j: _render(j, tmp), jobs))
    lengths = np.array([len(c) for c in clips])
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, audio=np.concatenate(clips), lengths=lengths,
                     label=np.array([WORDS.index(j[0]) for j in jobs]), voice=np.array([j[1] for j in jobs]),
                     speed=np.array([j[2] for j in jobs]), pitch=np.array([j[3] for j in jobs]))
    atomic_write(path, write)


def spoken_digits(rate: int, length: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(clips (N, length) float32 at `rate` Hz, digit labels (N,), info)."""
    from scipy.signal import resample_poly

    from .audio import fit_length, to_float
    path = cache_path()
    if not path.exists():
        build(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            audio, lengths, labels = f["audio"], f["lengths"], f["label"].astype(np.int64)
    except (OSError, ValueError, KeyError) as e:
        raise GanforgeError(f"the spoken-digits cache {path} is damaged ({str(e)[:80]}); delete it and it "
                            f"is rendered again") from None
    from math import gcd
    g = gcd(NATIVE_RATE, rate)
    clips = [fit_length(resample_poly(to_float(c), rate // g, NATIVE_RATE // g).astype(np.float32), length)
             for c in np.split(audio, np.cumsum(lengths)[:-1])]
    info = {"source": (f"synthetic speech: espeak-ng, {len(VOICES)} voices x {len(SPEEDS)} speeds x "
                       f"{len(PITCHES)} pitches per word"), "sample_rate": rate, "clip_samples": length,
            "handling": "silence trimmed, resampled with resample_poly, centred in silence"}
    return np.stack(clips), labels, info
