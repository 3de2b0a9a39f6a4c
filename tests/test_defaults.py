"""Defaults come from what the data is (kind, size, count, labels), not from its name; any image
size and channel count trains with no flags."""
import numpy as np
import pytest
from PIL import Image

import ganforge
from ganforge.data import load_dataset
from ganforge.families import family_class
from ganforge.families.resolve import resolve

TINY = dict(steps=2, batch_size=8, channels=8, log_every=1, sample_every=2, ckpt_every=2, ema_decay=0.0)


def _blobs(n, size, channels, seed=0):
    """n uint8 images (n, size, size[, 3]) of a bright disc at a random place on a dark ground."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(0.3, 0.7, (2, n, 1, 1)) * size
    img = ((yy - cy) ** 2 + (xx - cx) ** 2 < (size / 5) ** 2) * 200 + 20
    img = img.astype(np.uint8)
    return np.repeat(img[..., None], 3, -1) if channels == 3 else img


def test_a_users_set_gets_the_recipe_of_a_builtin_set_like_it(tmp_path):
    # mnist5k's options once came from its name; an npz with the same kind, size, count and labels
    # trained with plain defaults (ns loss, no spectral norm, 3000 steps).
    d = load_dataset("mnist5k")
    x = ((d.x[:, 0].numpy() + 1) * 127.5).round().astype(np.uint8)
    np.savez(tmp_path / "mine.npz", images=x, labels=d.labels.numpy())
    mine = load_dataset(str(tmp_path / "mine.npz"))
    cgan = family_class("cgan")
    a = resolve(cgan, {}, d.meta(), "mnist5k").to_dict()
    b = resolve(cgan, {}, mine.meta(), str(tmp_path / "mine.npz")).to_dict()
    same = {k for k in a if k not in ("data",)}
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert a["loss"] == "hinge" and a["spectral_norm"]


def test_conditional_steps_are_3000_except_for_tiny_images():
    # 3,000 steps at every size but the tiny (<= 12 px at 64 channels: at its floor by 1,500); the
    # larger sizes keep a step's cost in budget by batch and width instead
    from ganforge.families.gan import image_defaults
    steps = {size: image_defaults({"shape": [1, size, size], "count": 4000}, True)["steps"] for size in (8, 20, 28, 40, 100)}
    assert steps == {8: 1500, 20: 3000, 28: 3000, 40: 3000, 100: 3000}
    assert image_defaults({"shape": [1, 28, 28], "count": 4000}, False)["steps"] == 3000  # dcgan: by count


def test_labelled_images_train_conditionally_and_say_so(tmp_path, capsys):
    np.savez(tmp_path / "lab.npz", images=_blobs(16, 12, 1), labels=np.arange(16) % 2)
    run = ganforge.train(str(tmp_path / "lab.npz"), out=tmp_path / "c", **TINY)
    first = capsys.readouterr().out.splitlines()[0]
    assert run.config["family"] == "cgan"
    assert "labelled, so trained conditionally (--unconditional to opt out)" in first, first
    run = ganforge.train(str(tmp_path / "lab.npz"), out=tmp_path / "u", unconditional=True, **TINY)
    assert run.config["family"] == "dcgan"


def test_unconditional_flag_and_its_contradiction(tmp_path, cli):
    np.savez(tmp_path / "lab.npz", images=_blobs(16, 8, 1), labels=np.arange(16) % 2)
    code, out, _ = cli("train", tmp_path / "lab.npz", "--unconditional", "--steps", "2", "--batch-size", "8",
                       "--out", tmp_path / "r")
    assert code == 0 and out.startswith("dcgan on lab")
    code, _, err = cli("train", tmp_path / "lab.npz", "--unconditional", "--model", "cgan", "--out", tmp_path / "s")
    assert code == 2 and "--unconditional contradicts --model cgan" in err


@pytest.mark.parametrize("size,channels", [(20, 1), (36, 3), (60, 1), (100, 3)])
def test_any_image_size_trains_with_no_flags(tmp_path, size, channels):
    # 36, 60 and 100 failed: "image size 60 cannot be built by doubling a 3..7 base"
    folder = tmp_path / "pics"
    folder.mkdir()
    for i, im in enumerate(_blobs(8, size, channels)):
        Image.fromarray(im).save(folder / f"{i}.png")
    run = ganforge.train(str(folder), out=tmp_path / "r", progress=False, **TINY)
    expect = min(size, 64)  # the folder policy: median short side, capped at 64 (stated in the data info)
    assert run.config["data"]["shape"] == [channels, expect, expect]
    s = run.generator().sample(3, seed=0).samples
    assert s.shape == (3, expect, expect, channels)
    np.savez(tmp_path / "a.npz", images=_blobs(8, size, channels))  # an npz keeps its own size
    run = ganforge.train(str(tmp_path / "a.npz"), out=tmp_path / "n", progress=False, **TINY)
    assert run.generator().sample(2, seed=0).samples.shape == (2, size, size, channels)


def test_mixed_size_folder_and_non_square_npz_train(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, (w, h) in enumerate([(20, 20), (37, 30), (60, 45), (100, 100), (24, 50), (33, 33), (64, 40), (50, 50)]):
        Image.fromarray(_blobs(1, max(w, h), 3, seed=i)[0][:h, :w]).save(folder / f"{i}.png")
    run = ganforge.train(str(folder), out=tmp_path / "r", progress=False, **TINY)
    assert run.config["data"]["shape"][0] == 3
    np.savez(tmp_path / "wide.npz", images=_blobs(8, 30, 1)[:, :18, :])  # 18 x 30
    run = ganforge.train(str(tmp_path / "wide.npz"), out=tmp_path / "w", progress=False, **TINY)
    assert run.generator().sample(2, seed=0).samples.shape == (2, 18, 30, 1)


def test_minutes_sets_the_steps_from_the_measured_speed(tmp_path, cli):
    run = ganforge.train("digits", out=tmp_path / "m", minutes=0.05, progress=False, log_every=5,
                         sample_every=10_000, ckpt_every=10_000)
    planned = [r["planned_steps"] for r in run.log if "planned_steps" in r]
    # a 3-second budget ends far short of the recipe's 1,500 steps, where it planned to
    assert planned and run.step == planned[-1] == run.config["config"]["steps"] < 1500
    code, _, err = cli("train", "digits", "--steps", "5", "--minutes", "1", "--out", tmp_path / "x")
    assert code == 2 and "give --steps or --minutes, not both" in err


@pytest.mark.parametrize("h,w", [(20, 20), (36, 36), (60, 45)])
def test_resize_upsampling_builds_every_size_and_survives_a_fresh_load(tmp_path, h, w):
    from ganforge.nets.conv import ConvGenerator
    import torch
    g = ConvGenerator(16, [3, h, w], channels=8, num_classes=2, cond_bn=True, upsample="resize")
    assert g(torch.randn(4, 16), torch.tensor([0, 1, 0, 1])).shape == (4, 3, h, w)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())
    with pytest.raises(ganforge.GanforgeError, match="upsample"):
        ConvGenerator(16, [1, h, w], upsample="bilinear")
    np.savez(tmp_path / "a.npz", images=_blobs(8, max(h, w), 1)[:, :h, :w])
    run = ganforge.train(str(tmp_path / "a.npz"), out=tmp_path / "r", progress=False, upsample="resize", **TINY)
    loaded = ganforge.load(run.path)  # rebuilt from generator.json: the option travels with the run
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in loaded.net.modules())
    assert loaded.sample(2, seed=0).samples.shape == (2, h, w, 1)


def test_images_built_by_four_doublings_upsample_by_resize_and_smaller_ones_keep_transposed_convs():
    # four or more transposed doublings left checkerboard noise over flat colour (mnist5k-rgb-64:
    # FID 97.7 -> 43.1 with resize); with three (36 -> 40 px) resize lost recall (fashion-kit-36)
    from ganforge.families.gan import image_defaults
    for conditional in (True, False):
        picked = {size: image_defaults({"shape": [3, size, size], "count": 4000}, conditional).get("upsample")
                  for size in (20, 28, 32, 36, 56, 60, 100)}
        assert picked == {20: None, 28: None, 32: None, 36: None, 56: None, 60: "resize", 100: "resize"}
    meta = {"kind": "audio", "name": "clips", "shape": [1, 64, 64], "count": 500, "class_names": [], "info": {}}
    assert resolve(family_class("specgan"), {}, meta, "clips").upsample == "transposed"  # as measured on audio


def test_class_guide_trains_a_content_classifier_on_real_images_and_resumes(tmp_path):
    """--class-guide: a classifier of real images (its own phase) whose reading of G's images
    is part of G's loss; it learns the digits within a few dozen steps, travels in the
    checkpoint, and the saved generator samples without it."""
    opts = dict(model="cgan", steps=60, batch_size=32, channels=8, log_every=10, sample_every=60, ckpt_every=30,
                progress=False, class_guide=0.2)
    run = ganforge.train("digits", out=tmp_path / "r", **opts)
    acc = [r["C_acc"] for r in run.log if "C_acc" in r]
    assert len(acc) == 6 and acc[0] + 0.2 < acc[-1] and acc[-1] > 0.9  # chance 0.1; acc[0]: steps 1-10
    more = ganforge.train("digits", out=tmp_path / "r", resume=True, **{**opts, "steps": 70})
    assert more.step == 70 and [r["C_acc"] for r in more.log if "C_acc" in r]
    assert ganforge.load(run.path).sample(4, labels=[1, 2, 3, 4], seed=0).samples.shape[0] == 4
    assert "C_acc" not in ganforge.train("digits", out=tmp_path / "plain", **{**opts, "class_guide": 0.0}).log[-1]
    with pytest.raises(ganforge.GanforgeError, match="--class-guide needs labelled images"):
        ganforge.train("ring8", out=tmp_path / "pts", model="cgan", steps=2, progress=False, class_guide=0.2)


def test_class_pool_reads_d_class_terms_summed_over_positions_and_travels_with_the_run(tmp_path):
    """--class-pool: D's class terms (projection and AC head) read its last map summed over
    positions, so they have the last level's width, not width x positions; off by default (it
    did not carry to held-out data); the choice travels with a resumed run."""
    import torch
    from ganforge.families.gan import image_defaults
    from ganforge.nets.conv import ConvDiscriminator
    assert not any(image_defaults({"shape": [3, s, s], "count": 4000}, True).get("class_pool") for s in (20, 60, 100))
    d = ConvDiscriminator([3, 20, 20], channels=8, num_classes=3, aux_classifier=True, spectral=True, class_pool=True)
    logit, cls = d(torch.rand(4, 3, 20, 20), torch.tensor([0, 1, 2, 0]))
    assert logit.shape == (4,) and cls.shape == (4, 3)
    assert d.head.aux.in_features == d.head.proj.embedding_dim == 8 * 2 ** 2  # width at the last level
    assert d.head.out.in_features == 8 * 2 ** 2 * 5 ** 2  # realness still reads the whole map
    from safetensors import safe_open

    def proj_width(run):  # the saved D's class embedding: its width says what the class terms read
        with safe_open(str(run.path / "checkpoint.safetensors"), "pt") as f:
            return f.get_slice("s.nets.D.head.proj.parametrizations.weight.original").get_shape()[1]
    np.savez(tmp_path / "a.npz", images=_blobs(8, 20, 3), labels=np.arange(8) % 2)
    opts = {**TINY, "ckpt_every": 1}
    flat = ganforge.train(str(tmp_path / "a.npz"), out=tmp_path / "f", progress=False, **opts)
    assert flat.config["config"]["model"] == "cgan" and not flat.config["config"]["class_pool"]
    assert proj_width(flat) == 8 * 2 ** 2 * 5 ** 2
    run = ganforge.train(str(tmp_path / "a.npz"), out=tmp_path / "r", progress=False, class_pool=True, **opts)
    more = ganforge.train(str(tmp_path / "a.npz"), out=tmp_path / "r", progress=False, resume=True,
                          **{**opts, "steps": 3})
    assert more.step == 3 and more.config["config"]["class_pool"] and proj_width(more) == 8 * 2 ** 2
    assert ganforge.load(run.path).sample(2, seed=0).samples.shape == (2, 20, 20, 3)


@pytest.mark.parametrize("ac_fake", [True, False])
def test_no_ac_fake_teaches_d_class_head_from_real_images_only(ac_fake):
    """--no-ac-fake: D's AC head learns the class from real images only, so its gradient does not
    depend on what G drew; the AC-GAN default also learns it on G's images."""
    import torch
    from ganforge.data import load_dataset
    from ganforge.families import build_family, family_class
    from ganforge.families.resolve import resolve
    data = load_dataset("digits")
    cfg = resolve(family_class("cgan"), dict(data="digits", channels=8, batch_size=16, ac_fake=ac_fake),
                  data.meta(), "digits")
    fam = build_family(cfg, data.meta())
    batch = data.stream(16, 0).next()
    D, grads = fam.nets["D"], []
    start = {k: v.clone() for k, v in D.state_dict().items()}  # spectral norm's vectors move each pass
    for g_seed in (0, 1):  # two different Gs, the same D and real batch
        torch.manual_seed(g_seed)
        for p in fam.nets["G"].parameters():
            torch.nn.init.normal_(p, 0.0, 0.2)
        D.load_state_dict(start)
        D.zero_grad()
        torch.manual_seed(7)
        fam.phases[0].loss(batch, {"step": 1})[0].backward()
        grads.append(D.head.aux.parametrizations.weight.original.grad.clone())  # spectral norm: the raw weight
    assert torch.allclose(grads[0], grads[1]) is (not ac_fake)
