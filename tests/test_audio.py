"""Audio: WAV read/write round trip, mono mixing and resampling, the pad/crop policy, folder
layouts and their one-line errors; a tiny wavegan and a tiny specgan on pure tones learn the
asked pitch (against their own untrained start); specgan's spectrograms invert to the same pitch; a run trained from a WAV folder samples WAV files in a fresh process;
the built-in spoken-digits set renders with espeak-ng (skipped without it)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.io import wavfile

import ganforge
from ganforge.cli import main
from ganforge.data import speech
from ganforge.data.audio import TONE_HZ, fit_length, read_audio, read_wav, write_wav


def tone(freq: float, rate: int, seconds: float, level: float = 0.5) -> np.ndarray:
    return (level * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> np.ndarray:
    """The strongest frequency of each clip (N, L)."""
    spec = np.abs(np.fft.rfft(np.atleast_2d(x), axis=1))
    return np.fft.rfftfreq(np.atleast_2d(x).shape[1], 1 / rate)[spec.argmax(1)]


def test_wav_round_trip_and_sample_formats(tmp_path):
    x = tone(440, 8000, 0.25)
    write_wav(tmp_path / "a.wav", x, 8000)
    rate, raw = wavfile.read(tmp_path / "a.wav")
    assert rate == 8000 and raw.dtype == np.int16
    np.testing.assert_allclose(read_wav(tmp_path / "a.wav", 8000), x, atol=1 / 32767)
    # 8-bit (unsigned), 32-bit PCM and float WAVs all come back in [-1, 1] at the same level
    wavfile.write(tmp_path / "u8.wav", 8000, np.round(x * 127 + 128).astype(np.uint8))
    wavfile.write(tmp_path / "i32.wav", 8000, np.round(x * 2 ** 31).astype(np.int32))
    wavfile.write(tmp_path / "f32.wav", 8000, x)
    for name, tol in (("u8.wav", 1 / 100), ("i32.wav", 1e-6), ("f32.wav", 0)):
        np.testing.assert_allclose(read_wav(tmp_path / name, 8000), x, atol=tol + 1e-7)


def test_stereo_is_mixed_to_mono_and_rates_are_resampled(tmp_path):
    x = tone(500, 16000, 0.5)
    wavfile.write(tmp_path / "cancel.wav", 16000, np.stack([x, -x], 1))  # the mean of the channels: silence
    assert np.abs(read_wav(tmp_path / "cancel.wav", 16000)).max() < 1e-6
    wavfile.write(tmp_path / "st.wav", 16000, np.stack([x, x * 0.5], 1))
    y = read_wav(tmp_path / "st.wav", 8000)  # 16 kHz -> 8 kHz: half the samples, the same pitch
    assert len(y) == 4000 and peak_hz(y, 8000)[0] == pytest.approx(500, abs=2)
    assert np.abs(y[500:-500]).max() == pytest.approx(0.75 * 0.5, rel=0.02)
    wavfile.write(tmp_path / "hi.wav", 16000, tone(5000, 16000, 0.5) + x)
    z = read_wav(tmp_path / "hi.wav", 8000)[200:-200]  # anti-aliased: 5 kHz must not fold to 3 kHz
    spec, f = np.abs(np.fft.rfft(z)), np.fft.rfftfreq(len(z), 1 / 8000)
    assert spec[np.abs(f - 3000) < 20].max() < 0.01 * spec.max(), "5 kHz aliased to 3 kHz"


def test_short_clips_are_centred_and_long_ones_cut_to_their_loudest_window():
    short = np.ones(4, np.float32)
    assert fit_length(short, 8).tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    long = np.zeros(100, np.float32)
    long[60:70] = 1
    cut = fit_length(long, 20)
    assert len(cut) == 20 and cut.sum() == 10


def make_folder(root, labelled=True, per=3, rate=16000):
    for k, f in enumerate((300, 900)):
        folder = root / f"c{f}" if labelled else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per):
            write_wav(folder / f"{k}_{i}.wav", tone(f, rate, 0.3 + 0.1 * i), rate)
    return root


def test_folder_layouts_give_labels_from_sub_folders(tmp_path):
    d = read_audio(str(make_folder(tmp_path / "lab")), rate=4000, length=2048)
    assert d.kind == "audio" and tuple(d.x.shape) == (6, 1, 2048) and d.class_names == ["c300", "c900"]
    assert d.labels.tolist() == [0, 0, 0, 1, 1, 1] and d.info["file_rates"] == [16000]
    assert (peak_hz(d.x[:, 0].numpy(), 4000) == pytest.approx(np.repeat([300, 900], 3), abs=3))
    flat = read_audio(str(make_folder(tmp_path / "flat", labelled=False)), rate=4000, length=1024)
    assert flat.labels is None and flat.class_names == [] and "cut" in flat.info["handling"]


BAD = {
    "empty": (lambda p: None, "is empty"),
    "not_wav": (lambda p: (make_folder(p), (p / "c300" / "notes.mp3").write_bytes(b"ID3")), "is not a .wav file"),
    "corrupt": (lambda p: (make_folder(p), (p / "c300" / "bad.wav").write_bytes(b"RIFF0000WAVE")), "cannot read"),
    "mixed": (lambda p: (make_folder(p), write_wav(p / "loose.wav", tone(1, 8000, 0.1), 8000)), "mixes files"),
    "one_file": (lambda p: write_wav(p / "one.wav", tone(1, 8000, 0.1), 8000), "is one clip"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_audio_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, case):
    data = tmp_path / "clips"
    data.mkdir()
    make, expected = BAD[case]
    make(data)
    target = data / "one.wav" if case == "one_file" else data
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", str(target), "--model", "wavegan", "--steps", "2", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert expected in err, err
    assert not out.exists()


def test_a_wav_folder_trains_the_audio_default_and_a_bad_clip_length_is_named(tmp_path, capsys):
    make_folder(tmp_path / "clips")
    with pytest.raises(SystemExit) as e:  # no --model: a folder of .wav clips is audio
        main(["train", str(tmp_path / "clips"), "--steps", "1", "--channels", "4", "--batch-size", "4", "--quiet", "--out",
              str(tmp_path / "default")])
    assert e.value.code == 0 and json.loads((tmp_path / "default" / "config.json").read_text())["family"] == "specgan"
    with pytest.raises(SystemExit) as e:
        main(["train", str(tmp_path / "clips"), "--model", "wavegan", "--clip-samples", "1000", "--steps", "2",
              "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "multiple of 1024" in err, err


TINY = ["--sample-rate", "4000", "--clip-samples", "1024", "--channels", "2", "--z-dim", "8", "--batch-size", "4",
        "--steps", "3", "--log-every", "1", "--quiet"]

USE = r"""
import json, sys
import ganforge
m = ganforge.load(sys.argv[1])
s = m.sample(5, labels="c900", seed=1)
print(json.dumps({"kind": type(m).__name__, "shape": list(s.samples.shape), "rate": s.sample_rate,
                  "labels": s.labels.tolist(), "classes": m.class_names}))
"""


def test_a_run_from_a_wav_folder_samples_wav_files_in_a_fresh_process(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", str(make_folder(tmp_path / "clips", per=4)), "--model", "wavegan", *TINY, "--out", str(out)])
    assert e.value.code == 0
    assert next((out / "samples").glob("step_*.png")).stat().st_size > 1000  # the spectrogram preview
    proc = subprocess.run([sys.executable, "-c", USE, str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == {"kind": "AudioModel", "shape": [5, 1024], "rate": 4000,
                                       "labels": [1] * 5, "classes": ["c300", "c900"]}
    clips = tmp_path / "gen"
    cmd = [sys.executable, "-m", "ganforge", "sample", str(out), "-n", "4", "--out", str(clips)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in clips.iterdir())
    assert len(files) == 4 and all(f.endswith((".wav")) and ("_c300" in f or "_c900" in f) for f in files), files
    rate, x = wavfile.read(clips / files[0])
    assert rate == 4000 and x.dtype == np.int16 and x.shape == (1024,)
    with pytest.raises(SystemExit) as e:  # a folder with files in it is not replaced without --overwrite
        main(cmd[3:])
    assert e.value.code == 2 and len(list(clips.iterdir())) == 4
    with pytest.raises(SystemExit) as e:  # no audio metrics: said in one line, with what to do instead
        main(["evaluate", str(out)])
    assert e.value.code == 2


def asked_tone_share(model) -> float:
    """Share of clips whose strongest frequency is within 5% of the asked tone."""
    asked = np.repeat(np.arange(len(TONE_HZ)), 10)
    got = peak_hz(model.sample(len(asked), asked, seed=3).samples, 4000)
    want = np.array(TONE_HZ)[asked]
    return float((np.abs(got - want) < 0.05 * want).mean())


@pytest.mark.parametrize("model,opts,steps,before_max,after_min", [
    # measured 0.00 -> 0.83 (250 steps: 0.33); ~35 CPU-s
    ("wavegan", dict(channels=4, z_dim=16), 400, 0.2, 0.5),
    # measured 0.00 -> 0.85 (150 steps: 0.72); ~30 CPU-s
    ("specgan", dict(spec_size=32, channels=8, griffin_lim=16), 300, 0.3, 0.6),
])
def test_a_tiny_audio_gan_learns_the_asked_tone(tmp_path, model, opts, steps, before_max, after_min):
    torch.set_num_threads(1)
    opts = dict(opts, sample_rate=4000, clip_samples=1024, batch_size=32, log_every=50, sample_every=10 ** 6,
                ckpt_every=10 ** 6, progress=False)
    untrained = ganforge.train("tones", model=model, out=tmp_path / "u", steps=1, **opts)
    run = ganforge.train("tones", model=model, out=tmp_path / "t", steps=steps, **opts)
    before, after = asked_tone_share(ganforge.load(untrained.path)), asked_tone_share(ganforge.load(run.path))
    assert before < before_max and after > after_min, (before, after)


def test_spoken_digits_render_once_into_the_cache(tmp_path, monkeypatch):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(speech, "VOICES", ("en-us", "en-gb+f4"))  # 20 clips, not 900
    monkeypatch.setattr(speech, "SPEEDS", (160,))
    monkeypatch.setattr(speech, "PITCHES", (50,))
    d = read_audio("spoken-digits")
    assert tuple(d.x.shape) == (20, 1, 8192) and d.class_names == [str(i) for i in range(10)]
    assert sorted(d.labels.tolist()) == sorted(list(range(10)) * 2) and "synthetic speech" in d.info["source"]
    assert (d.x.abs().amax(dim=(1, 2)) > 0.05).all()  # every clip holds a word
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)  # now cached: no synthesizer needed
    assert torch.equal(read_audio("spoken-digits").x, d.x)


def test_spoken_digits_without_espeak_names_the_package(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as e:
        main(["train", "spoken-digits", "--steps", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and "apt-get install espeak-ng" in err, err


def test_specgan_spectrograms_invert_to_the_same_pitch():
    from ganforge.nets.specgan import Spectrogram
    torch.manual_seed(0)
    spec = Spectrogram(2048, 32)
    waves = torch.from_numpy(np.stack([tone(f, 4000, 2048 / 4000) for f in (330, 880, 1320)])).unsqueeze(1)
    spec.ref_db = float(spec.power_db(waves).max())
    img = spec.encode(waves)
    assert img.shape == (3, 1, 32, 32) and float(img.min()) >= -1 and float(img.max()) == 1.0
    back = spec.decode(img).squeeze(1).numpy()
    np.testing.assert_allclose(peak_hz(back, 4000), [330, 880, 1320], rtol=0.05)  # bands are 62.5 Hz wide
    assert abs(np.abs(back).mean() / np.abs(waves.numpy()).mean() - 1) < 0.3  # same loudness
    silent = spec.decode(-torch.ones(1, 1, 32, 32))
    assert float(silent.abs().max()) < 1e-3  # the -80 dB floor comes back as near silence


def test_specgan_options_that_cannot_make_a_square_spectrogram_are_named(tmp_path, capsys):
    for args, expected in ((["--spec-size", "48"], "power of two"), (["--clip-samples", "3072"], "multiple of --spec-size")):
        with pytest.raises(SystemExit) as e:
            main(["train", "tones", "--model", "specgan", "--steps", "1", "--out", str(tmp_path / "r"), *args])
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and expected in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_specgan_unconditional_ignores_the_labels_and_samples_without_them(tmp_path):
    run = ganforge.train("tones", model="specgan", unconditional=True, out=tmp_path / "u", steps=1, spec_size=32,
                         clip_samples=2048, channels=4, batch_size=8, progress=False)
    model = ganforge.load(run.path)
    s = model.sample(3, seed=0)
    assert model.num_classes == 0 and s.labels is None and s.samples.shape == (3, 2048)
    with pytest.raises(ganforge.GanforgeError):
        model.sample(2, labels="440Hz")  # no classes to ask for


def test_specgan_unconditional_gets_the_recipe_of_unlabelled_clips():
    # the recipe follows whether the labels are used, not only whether the data has them
    from ganforge.families import family_class
    from ganforge.families.resolve import resolve
    meta = {"kind": "audio", "name": "clips", "shape": [1, 64, 64], "count": 2000, "class_names": list("0123456789"),
            "info": {}}
    spec = family_class("specgan")
    labelled = resolve(spec, {}, meta, "clips").to_dict()
    ignored = resolve(spec, {"conditional": False}, meta, "clips").to_dict()
    unlabelled = resolve(spec, {}, {**meta, "class_names": []}, "clips").to_dict()
    assert {k: v for k, v in ignored.items() if k != "conditional"} == \
        {k: v for k, v in unlabelled.items() if k != "conditional"}
    assert ignored != labelled and labelled["ac_weight"] > 0 == ignored["ac_weight"]
