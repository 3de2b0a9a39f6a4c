"""--augment: the ops (differentiable, shared by stacked images, identity at p = 0), ADA's p
(moved by r_t, saved, exact resume), where it is applied (D's inputs only), its default, and
the leak check."""
from __future__ import annotations

import pytest
import torch
from conftest import FAST

import ganforge
from ganforge.families.augment import SMALL_SET, default_augment
from ganforge.metrics.leak import leak_check
from ganforge.nets.augment import ADA_P_MAX, Augment


def _images(n=16, c=3, size=16):
    torch.manual_seed(0)
    return torch.rand(n, c, size, size) * 2 - 1


def test_augment_ops_are_differentiable_and_change_the_images():
    x = _images().requires_grad_(True)
    y = Augment("diffaug", 3)(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_stacked_images_get_the_same_op():
    x = _images(c=1)
    torch.manual_seed(3)
    y = Augment("diffaug", channels=1)(torch.cat([x, x], dim=1))  # a (condition, image) pair
    assert torch.equal(y[:, 0], y[:, 1])


def test_ada_at_p_zero_is_the_identity_and_p_one_augments():
    x = _images()
    aug = Augment("ada", 3)
    assert torch.equal(aug(x), x)
    aug.p.fill_(1.0)
    assert not torch.allclose(aug(x), x)


def test_ada_p_follows_the_overfitting_heuristic():
    aug = Augment("ada", 1, batch_size=64)
    for _ in range(5):  # D sure of every real: r_t = 1 > 0.6, p rises
        aug.observe(torch.ones(64))
        rt = aug.adjust()
    assert float(rt) == 1.0 and 0 < float(aug.p) <= ADA_P_MAX
    high = float(aug.p)
    aug.observe(-torch.ones(64))  # r_t = -1: p falls
    aug.adjust()
    assert float(aug.p) < high
    for _ in range(10_000):
        aug.observe(torch.ones(64))
        aug.adjust()
    assert float(aug.p) == pytest.approx(ADA_P_MAX)  # the leak guard caps it


def test_ada_p_is_saved_and_resume_is_exact(tmp_path):
    from test_engine import _same_checkpoints
    opts = dict(FAST, model="dcgan", channels=8, augment="ada", batch_size=32)
    ganforge.train("digits", out=tmp_path / "a", steps=20, **opts)
    ganforge.train("digits", out=tmp_path / "b", steps=10, **opts)
    ganforge.train("digits", out=tmp_path / "b", steps=20, resume=True, **opts)
    tensors = _same_checkpoints(tmp_path / "a", tmp_path / "b")
    assert "s.nets.A.p" in tensors
    logged = [r["aug_p"] for r in ganforge.Run(tmp_path / "b").log]
    assert len(logged) == 4 and logged == [r["aug_p"] for r in ganforge.Run(tmp_path / "a").log]


@pytest.mark.parametrize("model", ["dcgan", "stylegan"])
def test_d_sees_augmented_real_and_fake_and_g_output_is_never_augmented(model, monkeypatch):
    from ganforge.data import load_dataset
    from ganforge.families import build_family, family_class
    from ganforge.families.resolve import resolve
    data = load_dataset("digits")
    cfg = resolve(family_class(model), dict(data="digits", channels=8, batch_size=16, augment="diffaug"),
                  data.meta(), "digits")
    fam = build_family(cfg, data.meta())
    calls = []
    monkeypatch.setattr(Augment, "forward", lambda self, x: calls.append(x) or x + 100.0)
    seen = []
    d = fam.nets["D"]
    monkeypatch.setattr(type(d), "forward", lambda self, x, y=None: seen.append(x) or (x.flatten(1).mean(1), None))
    batch = data.stream(16, 0).next()
    ctx = {"step": 1}
    fam.phases[0].loss(batch, ctx)
    fam.phases[1].loss(batch, ctx)
    assert len(calls) == 3  # real and fake in the D phase, fake in the G phase
    assert all(float(x.detach().min()) > 50 for x in seen)  # D saw only augmented tensors
    G = fam.nets["G"]
    with torch.no_grad():
        out = G(torch.randn(4, cfg.z_dim), batch[1][:4] if getattr(fam, "num_classes", 0) else None)
    assert float(out.abs().max()) < 50  # sampling is G alone


def test_augment_default_is_on_below_the_threshold_only():
    meta = {"kind": "images", "shape": [1, 28, 28], "class_names": []}
    assert default_augment(dict(meta, count=300)) == {"augment": "ada"}
    assert default_augment(dict(meta, count=SMALL_SET)) == {}
    assert default_augment({"kind": "points", "shape": [2], "count": 100}) == {}
    with pytest.raises(ganforge.GanforgeError, match="--augment applies to images"):
        ganforge.train("ring8", model="vanilla", out="r", steps=2, augment="ada", progress=False)


def test_the_leak_check_tells_real_from_augmented_images():
    from ganforge.data import load_dataset
    x = load_dataset("mnist5k").x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b = x[perm[:1000]], x[perm[1000:2000]]
    clean = {r["stat"]: r["position"] for r in leak_check(a, b)["rows"]}
    torch.manual_seed(1)
    leaky = {r["stat"]: r["position"] for r in leak_check(a, Augment("diffaug", 1)(b))["rows"]}
    for stat in ("centroid_sd", "blank_blocks"):
        assert abs(clean[stat]) < 0.2 and leaky[stat] > 0.8, (stat, clean[stat], leaky[stat])


def test_a_run_older_than_augment_resumes_without_it(tmp_path):
    # A small-set run saved before --augment existed has no `augment` in its config; resuming
    # must not switch on today's small-set default (its checkpoint has no augment state).
    from ganforge.io.checkpoint import load_state, save_state
    out = tmp_path / "old"
    ganforge.train("digits", model="dcgan", out=out, steps=4, channels=8, augment="off", **dict(FAST, log_every=2))
    state = load_state(out / "checkpoint.safetensors")
    del state["config"]["augment"]
    save_state(out / "checkpoint.safetensors", state)
    run = ganforge.train("digits", out=out, steps=6, resume=True, progress=False)
    assert run.step == 6 and run.config["config"]["augment"] == "off"
