"""The monitor sees collapse inside a class of a conditional G, which the batch-wide diversity
probe cannot (it spans the classes)."""
import torch

import ganforge
from ganforge.monitor.detectors import detect
from ganforge.monitor.doctor import diagnose

SMALL = dict(model="cgan", steps=150, channels=16, batch_size=32, log_every=10, sample_every=150,
             ckpt_every=150, progress=False, seed=0)


def _records(div_class, div=0.9, recall=None):
    out = []
    for i, d in enumerate(div_class):
        r = {"step": 10 * (i + 1), "div": div, "div_class_min": d, "div_class_worst": 3}
        if recall is not None and recall[i] is not None:
            r.update(probe_recall=recall[i], probe_recall_floor=0.9, probe_precision=0.6)
        out.append(r)
    return out


def _collapse(records):
    return [f for f in detect(records) if f.finding == "mode_collapse"]


def test_one_image_per_class_is_a_problem_although_the_batch_looks_diverse():
    f = _collapse(_records([0.4, 0.01, 0.0, 0.0, 0.0, 0.0]))
    assert f and f[0].severity == "problem" and f[0].evidence["class"] == 3
    assert not _collapse(_records([0.4, 0.5, 0.6, 0.7, 0.8, 0.75]))  # healthy digits cGAN values
    early = _records([0.035, 0.04, 0.045, 0.04, 0.045, 0.048])
    for r, d in zip(early, [0.04, 0.045, 0.05, 0.045, 0.05, 0.05]):
        r["div"] = d  # a fresh G is low in diversity everywhere, not inside one class
    assert not _collapse(early)


def test_recall_stuck_near_zero_while_samples_look_real():
    stuck = [0.004, None, None, 0.006, None, None, 0.0]  # the mnist5k cGAN whose CNN recall was 0.16
    f = _collapse(_records([0.5] * 7, recall=stuck))
    assert f and f[0].severity == "warning"  # varied within the class, but far from its real images
    f = _collapse(_records([0.2] * 7, recall=stuck))
    assert f and f[0].severity == "problem"
    long = [0.004, None, None, 0.006, None, None, 0.0, None, None, 0.01, None, None, 0.003]
    f = _collapse(_records([0.5] * 13, recall=long))
    assert f and f[0].severity == "problem"  # 5 probes without recovering: --on-problem fix acts
    early = _records([0.2] * 7, recall=stuck)
    for r in early:
        r["probe_precision"] = 0.05  # early samples: far from every real image, recall ~0 too
    assert not _collapse(early)
    climbing = [0.0, None, None, 0.04, None, None, 0.22]  # a healthier run's probes (its CNN recall 0.56)
    assert not _collapse(_records([0.5] * 7, recall=climbing))


class IgnoreZ:
    """From its first call on, G's noise input is zeroed: a G that ignores z."""

    def __init__(self):
        self.hooked = False

    def __call__(self, trainer, record):
        if not self.hooked:
            G = trainer.family.nets["G"]
            G.register_forward_pre_hook(lambda m, args: (torch.zeros_like(args[0]), *args[1:]))
            self.hooked = True


def test_a_collapsed_cgan_gets_a_mode_collapse_finding_and_a_healthy_one_does_not(tmp_path):
    # Measured (digits, 600 steps): a G that ignores z kept the batch diversity at 0.9 ("healthy"
    # before the probes) with within-class diversity 0.0; the healthy run 0.42 -> 0.86.
    bad = ganforge.train("digits", out=tmp_path / "bad", callbacks=[IgnoreZ()], **SMALL)
    found = [r for r in bad.log if r.get("finding") == "mode_collapse"]
    assert found and found[0]["severity"] == "problem", [r for r in bad.log if "finding" in r]
    assert any(f["finding"] == "mode_collapse" for f in diagnose(bad.path)["findings"])
    good = ganforge.train("digits", out=tmp_path / "good", **SMALL)
    assert not [r for r in good.log if r.get("finding") == "mode_collapse"]
    assert [r["div_class_min"] for r in good.log if "div_class_min" in r][-1] > 0.2
