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


def _ema_records(ema, div=0.8, live=0.3):
    return [{"step": 50 * (i + 1), "div": div, "div_class_min": live, "div_class_worst": 0,
             "div_class_min_ema": e, "div_class_worst_ema": 0} for i, e in enumerate(ema)]


def test_a_class_the_saved_ema_generator_draws_as_one_image_is_found():
    # textures-100 cgan defaults: class 0 (CNN recall 0.00) read 0.12-0.42 on the live G, batch
    # diversity ~0.8, but 0.073 on the EMA of G, the generator the run saves
    f = _collapse(_ema_records([0.073] * 6))
    assert f and f[0].severity == "warning" and f[0].evidence["class"] == 0, f
    assert not _collapse(_ema_records([0.63] * 6))  # healthy mnist5k cGAN's lowest class
    assert not _collapse(_ema_records([0.5, 0.5, 0.073, 0.073, 0.073, 0.073]))  # not sustained
    early = _ema_records([0.15, 0.16, 0.15, 0.17, 0.16, 0.15], div=0.3)  # low everywhere, not in a class
    assert not _collapse(early)


class TinyG(torch.nn.Module):
    """A conditional G with BatchNorm whose class 1 ignores z."""

    def __init__(self):
        super().__init__()
        self.lin, self.bn = torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16)

    def forward(self, z, y):
        h = self.bn(self.lin(z * (y != 1).float()[:, None]))
        return h.reshape(len(z), 1, 4, 4)


def test_the_ema_probe_reads_the_ema_copy_and_leaves_it_untouched():
    from types import SimpleNamespace

    from ganforge.monitor.probes import Probes
    x, y = torch.randn(200, 1, 4, 4), torch.arange(200) % 2
    probes = Probes(SimpleNamespace(x=x, labels=y, kind="images"), {"z_dim": 4, "num_classes": 2}, "cpu")
    live, ema = TinyG().eval(), TinyG().eval()
    ema.bn.running_var.fill_(1e-6)  # running stats that do not fit these weights: BN uses the batch's
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    out = probes.signals(live, 1, ema)
    assert out["div_class_worst_ema"] == 1 and out["div_class_min_ema"] < 0.01
    assert all(torch.equal(v, ema.state_dict()[k]) for k, v in before.items()) and not ema.training
    assert "div_class_min_ema" not in probes.signals(live, 2)
