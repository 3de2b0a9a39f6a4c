"""One shape for every family: each registered family trains a few steps, and its run loads in a
fresh Python process through `ganforge.load` and does its job; run folders written by ganforge
0.1.0 still load; options a family does not use are refused; `--loss wgan-gp` applies the
penalty wherever it is accepted; the template family trains end to end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.families import FAMILIES, build_family, family_class

TINY_I2I = dict(steps=2, image_size=32, batch_size=2, channels=4, log_every=1)
TRAIN = {  # family -> (data, options): a few steps, tiny nets
    "vanilla": ("ring8", dict(steps=4, hidden=16, depth=1, log_every=2)),
    "dcgan": ("digits", dict(steps=2, channels=8, log_every=1)),
    "cgan": ("digits", dict(steps=2, channels=8, log_every=1)),
    "lapgan": ("digits", dict(steps=2, channels=4, image_size=16, log_every=1)),
    "pix2pix": ("photos-pairs", TINY_I2I),
    "cyclegan": ("photos-pairs", TINY_I2I),
    "colorize": ("photos", TINY_I2I),
    "srgan": ("photos", TINY_I2I),
    "inpaint": ("photos", TINY_I2I),
    "stylegan": ("digits", dict(steps=2, channels=8, batch_size=16, log_every=1)),  # conditional: labelled
    "text2img": ("digits-captions", dict(steps=2, channels=8, log_every=1)),
    "timegan": ("sines", dict(steps=3, embed_steps=1, supervised_steps=1, hidden=4, layers=2, batch_size=16,
                              log_every=1)),
    "ganomaly": ("digits", dict(steps=2, channels=4, z_dim=4, log_every=1)),
    "fanogan": ("digits", dict(steps=3, gan_steps=1, n_critic=1, channels=4, z_dim=4, log_every=1)),
    "wavegan": ("tones", dict(steps=2, sample_rate=4000, clip_samples=1024, channels=2, z_dim=8, batch_size=8,
                              log_every=1)),
    "specgan": ("tones", dict(steps=2, sample_rate=4000, clip_samples=1024, spec_size=32, channels=4, z_dim=8,
                              batch_size=8, log_every=1, griffin_lim=4)),
}
NEW_SINCE_0_1_0 = {"timegan", "text2img", "stylegan", "ganomaly", "fanogan", "wavegan", "specgan"}  # families added after the 0.1.0 fixtures were written
NOISE_FAMILIES = ("vanilla", "dcgan", "cgan", "lapgan", "stylegan")
FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"

# Run in a fresh interpreter: nothing imported or registered by the test process helps it.
LOAD_AND_USE = r"""
import json, sys
import numpy as np
import torch
import ganforge
out = {}
for run in sys.argv[1:]:
    m = ganforge.load(run)
    kind = type(m).__name__
    if kind == "Generator":
        s = m.sample(6, seed=1)
        res = {"shape": list(s.samples.shape), "finite": bool(np.isfinite(s.samples.astype(float)).all()),
               "labels": s.labels is not None}
    elif kind == "ImageModel":
        img = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
        task = m.task
        if task == "inpaint":
            mask = np.zeros((48, 48), bool); mask[10:20, 10:20] = True
            y = m.inpaint(img, mask)
        else:
            y = getattr(m, task)(img)
        res = {"task": task, "shape": list(y.shape), "dtype": str(y.dtype)}
    elif kind == "SeriesModel":
        s = m.sample(6, seed=1)
        res = {"shape": list(s.samples.shape), "columns": s.columns, "finite": bool(np.isfinite(s.samples).all())}
    elif kind == "TextToImage":
        s = m.sample(3, text=m.examples[:2], seed=1)
        res = {"shape": list(s.samples.shape), "captions": len(set(s.captions))}
    elif kind == "AudioModel":
        s = m.sample(6, seed=1)
        res = {"shape": list(s.samples.shape), "rate": s.sample_rate, "labels": s.labels is not None,
               "finite": bool(np.isfinite(s.samples).all())}
    elif kind == "Detector":
        x = np.random.default_rng(0).uniform(-1, 1, (5, *m.data["shape"])).astype("float32")
        s = m.scores(torch.from_numpy(x))
        res = {"scores": len(s), "finite": bool(np.isfinite(s).all())}
    else:
        df = m.sample(5)
        res = {"rows": len(df), "columns": list(df.columns)}
    out[run] = {"kind": kind, **res}
print(json.dumps(out))
"""


def load_in_fresh_process(runs) -> dict:
    proc = subprocess.run([sys.executable, "-c", LOAD_AND_USE, *map(str, runs)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("families")
    made = {}
    for name, (data, opts) in TRAIN.items():
        made[name] = ganforge.train(data, model=name, out=root / name, progress=False, **opts).path
    from ganforge.tabular import TabularGAN
    TabularGAN(epochs=1, batch_size=100, hidden=16, z_dim=8, progress=False, verbose=False).fit(
        "fair", out=root / "tabular")
    made["tabular"] = root / "tabular"
    return made


def test_every_registered_family_is_trained_here():
    assert set(TRAIN) | {"tabular"} == set(FAMILIES)


def check_loaded(results: dict, family_of: dict) -> None:
    for run, res in results.items():
        family = family_of[run]
        if family in NOISE_FAMILIES:
            assert res["kind"] == "Generator" and res["finite"] and res["shape"][0] == 6, (family, res)
            assert res["labels"] == (family in ("cgan", "stylegan"))  # stylegan: conditional on labelled data
        elif family == "text2img":
            assert res == {"kind": "TextToImage", "shape": [6, 8, 8, 1], "captions": 2}, res
        elif family in ("ganomaly", "fanogan"):
            assert res == {"kind": "Detector", "scores": 5, "finite": True}, (family, res)
        elif family in ("wavegan", "specgan"):  # tones are labelled: conditional
            assert res == {"kind": "AudioModel", "shape": [6, 1024], "rate": 4000, "labels": True, "finite": True}, res
        elif family == "tabular":
            assert res["kind"] == "TabularGAN" and res["rows"] == 5 and len(res["columns"]) == 9
        elif family == "timegan":
            assert res["kind"] == "SeriesModel" and res["shape"] == [6, 24, 5] and res["finite"], res
            assert res["columns"] == [f"sine{i}" for i in range(1, 6)]
        else:
            scale = 4 if family == "srgan" else 1  # srgan's default --scale
            assert res["kind"] == "ImageModel" and res["dtype"] == "uint8", (family, res)
            assert res["shape"] == [48 * scale, 48 * scale, 3], (family, res)


def test_every_family_loads_and_works_in_a_fresh_process(runs):
    results = load_in_fresh_process(runs.values())
    check_loaded(results, {str(p): name for name, p in runs.items()})


def test_run_folders_written_by_ganforge_0_1_0_still_load():
    dirs = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    assert {p.name for p in dirs} == set(FAMILIES) - NEW_SINCE_0_1_0
    results = load_in_fresh_process(dirs)
    check_loaded(results, {str(p): p.name for p in dirs})


@pytest.mark.parametrize("family", NOISE_FAMILIES)
def test_evaluate_scores_every_noise_family(runs, family, capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(runs[family]), "-n", "60", "--json"])
    assert e.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metrics"], doc


@pytest.mark.parametrize("family,data,option", [
    ("pix2pix", "photos-pairs", ["--pack", "2"]),
    ("cgan", "digits", ["--pack", "2"]),
    ("vanilla", "ring8", ["--channels", "8"]),
    ("inpaint", "photos", ["--loss", "hinge"]),
    ("cyclegan", "photos-pairs", ["--warmup-steps", "5"]),
    ("dcgan", "digits", ["--scale", "2"]),
])
def test_an_option_the_family_does_not_use_is_refused(tmp_path, capsys, family, data, option):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", data, "--model", family, "--steps", "2", "--out", str(out), *option])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1
    assert f"{option[0]} is not an option of --model {family}" in err
    assert not out.exists()  # nothing written


def test_wgan_gp_applies_the_penalty_in_every_family_that_accepts_it():
    from ganforge.data import load_dataset
    takers = [n for n, cls in FAMILIES.items() if "loss" in cls.Options.names() and "wgan-gp" in cls.losses]
    assert takers, "no family takes --loss wgan-gp"
    for name in takers:
        cls = family_class(name)
        assert "gp_weight" in cls.Options.names(), f"{name} accepts wgan-gp but has no --gp-weight"
        if name in ("wavegan", "specgan"):  # audio: the family reads its own data
            data = cls.load_data("tones", {"sample_rate": 4000, "clip_samples": 1024, "spec_size": 32})
        else:
            data = load_dataset("ring8" if name == "vanilla" else "digits")
        batch = data.stream(8, 0).next()

        def d_loss(gp_weight):
            cfg = cls.Options(data=data.name, model=name, loss="wgan-gp", gp_weight=gp_weight).validate()
            torch.manual_seed(0)
            family = build_family(cfg, data.meta())
            torch.manual_seed(1)
            return float(family.phases[0].loss(batch, {"step": 0})[0].detach())

        assert d_loss(10.0) > d_loss(0.0) + 1e-4, name  # the penalty is added (and positive)
    # and a family whose D gets no penalty refuses the loss
    with pytest.raises(ganforge.GanforgeError, match="does not take --loss wgan-gp"):
        family_class("pix2pix").Options(model="pix2pix", loss="wgan-gp").validate(family_class("pix2pix").losses)


def test_the_template_family_trains_end_to_end(tmp_path):
    from ganforge.families import register
    from ganforge.families.template import TemplateGAN
    register(TemplateGAN)
    try:
        untrained = ganforge.train("ring8", model="template", out=tmp_path / "t0", steps=1, log_every=1,
                                   progress=False)
        run = ganforge.train("ring8", model="template", out=tmp_path / "t", steps=400, log_every=100,
                             progress=False)
    finally:
        FAMILIES.pop("template")

    def ring_error(r):  # mean distance of samples from the unit circle
        s = torch.from_numpy(ganforge.load(r.path).sample(500).samples)
        return float((s.norm(dim=1) - 1).abs().mean())

    assert run.config["family"] == "template" and run.step == 400
    assert ring_error(run) < 0.5 * ring_error(untrained)


def test_train_help_lists_every_family_from_the_registry(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for name, cls in FAMILIES.items():
        assert f"  {name} " in out and cls.summary.split()[0] in out


def test_resume_remembers_the_saved_options(tmp_path):
    out = tmp_path / "r"
    ganforge.train("ring8", out=out, steps=10, log_every=5, config={"loss": "hinge", "lr": 5e-4},
                   progress=False)
    run = ganforge.train("ring8", out=out, resume=True, steps=20, progress=False)
    cfg = run.config["config"]
    assert run.step == 20 and cfg["loss"] == "hinge" and cfg["lr_g"] == 5e-4
    with pytest.raises(ganforge.GanforgeError, match="trained with loss='hinge'"):
        ganforge.train("ring8", out=out, resume=True, loss="ns", steps=30, progress=False)


def test_a_fix_only_turns_knobs_the_family_has(tmp_path):
    from ganforge.data.photos import load_photos
    from ganforge.engine.loop import Trainer
    from ganforge.families.resolve import resolve
    from ganforge.io.rundir import RunDir
    from ganforge.monitor import remedy
    cls = family_class("pix2pix")
    data = load_photos("photos-pairs", 32, "paired")
    cfg = resolve(cls, dict(data="photos-pairs", steps=4, channels=4, batch_size=2), data.meta(), "photos-pairs")
    trainer = Trainer(build_family(cfg, data.meta()), data, cfg, RunDir(tmp_path), progress=False)
    change = remedy.apply(trainer, "mode_collapse")
    assert "r1" not in change and "EMA" not in change and not hasattr(cfg, "r1_gamma")
    assert "lr_G" in change and "lr_D" in change  # what it does instead: halve both
