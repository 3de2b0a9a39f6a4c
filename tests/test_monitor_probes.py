"""The monitor sees collapse inside a class of a conditional G, which the batch-wide diversity
probe cannot (it spans the classes)."""
import torch

import ganforge
from conftest import IgnoreNoise
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


def test_a_collapsed_cgan_gets_a_mode_collapse_finding_and_a_healthy_one_does_not(tmp_path):
    # Measured (digits, 600 steps): a G that ignores z kept the batch diversity at 0.9 ("healthy"
    # before the probes) with within-class diversity 0.0; the healthy run 0.42 -> 0.86.
    bad = ganforge.train("digits", out=tmp_path / "bad", callbacks=[IgnoreNoise()], **SMALL)
    found = [r for r in bad.log if r.get("finding") == "mode_collapse"]
    assert found and found[0]["severity"] == "problem", [r for r in bad.log if "finding" in r]
    assert any(f["finding"] == "mode_collapse" for f in diagnose(bad.path)["findings"])
    good = ganforge.train("digits", out=tmp_path / "good", **SMALL)
    assert not [r for r in good.log if r.get("finding") == "mode_collapse"]
    assert [r["div_class_min"] for r in good.log if "div_class_min" in r][-1] > 0.2


def _ema_records(ema, div=0.8, live=0.3):
    divs = div if isinstance(div, list) else [div] * len(ema)
    return [{"step": 50 * (i + 1), "div": d, "div_class_min": live, "div_class_worst": 0,
             "div_class_min_ema": e, "div_class_worst_ema": 0} for i, (e, d) in enumerate(zip(ema, divs))]


# textures-100 cgan defaults, seed 1, steps 1,050-1,500: class 0 (ganforge's CNN recall 0.00) on the
# EMA of G, the generator the run saves, with the live batch's diversity; the live G read 0.15-0.33
TEX_EMA = [0.1328, 0.1517, 0.1927, 0.245, 0.2228, 0.1569, 0.1027, 0.194, 0.2482, 0.327]
TEX_DIV = [0.8304, 0.8463, 0.7455, 0.8132, 0.8519, 0.8247, 0.741, 0.733, 0.7487, 0.7921]


def test_a_class_the_saved_ema_generator_draws_without_variety_is_found():
    f = _collapse(_ema_records(TEX_EMA, TEX_DIV))
    assert f and f[0].severity == "warning" and f[0].evidence["class"] == 0, f
    assert not _collapse(_ema_records(TEX_EMA[:9], TEX_DIV[:9]))  # too few log steps yet
    # healthy mnist5k cGAN, steps 50-500: low at first, but everywhere (ratio to the batch >= 0.59)
    healthy = [0.1546, 0.3288, 0.5108, 0.5161, 0.567, 0.6197, 0.6711, 0.6476, 0.7253, 0.7957]
    assert not _collapse(_ema_records(healthy, [0.2441, 0.4795, 0.7655, 0.8548, 0.9278, 0.9708, 0.9596,
                                                0.9825, 1.034, 0.9358]))
    assert not _collapse(_ema_records([0.6] * 5 + [0.1] * 5))  # a dip of 5 log steps: median 0.35
    assert not _collapse(_ema_records([0.15] * 10, div=0.3))  # low everywhere, not in one class


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


def _label_records(label_acc, real=0.64, precision=0.8):
    return [{"step": 40 * (i + 1), "div": 0.9, "div_class_min": 0.8, "probe_recall": 0.3, "probe_recall_floor": 0.9,
             "probe_precision": precision, "probe_label_acc": a, "probe_label_acc_real": real,
             "probe_label_chance": 0.1} for i, a in enumerate(label_acc)]


def test_images_that_do_not_show_their_class_are_found_although_pixels_look_healthy():
    """mnist5k-rgb-64 defaults: backgrounds without digits, varied and pixel-precise (probes
    healthy), read as the asked class 12% of the time by the run's reader (real 64%)."""
    f = _collapse(_label_records([0.10, 0.11, 0.12]))
    assert f and f[0].severity == "warning" and f[0].evidence["label_accuracy"] == "0.12"
    assert _collapse(_label_records([0.10, 0.11, 0.12, 0.11, 0.12]))[0].severity == "warning"  # no measured fix
    assert not _collapse(_label_records([0.10, 0.25, 0.40]))  # climbing past half the real rate
    assert not _collapse(_label_records([0.09, 0.34, 0.30]))  # a healthy mnist5k cGAN's first probes, still climbing
    assert not _collapse(_label_records([0.10, 0.11, 0.12], real=0.15))  # a reader that cannot read reals
    assert not _collapse(_label_records([0.10, 0.11, 0.12], precision=0.05))  # early: nothing looks real yet


def test_the_label_probe_reads_whether_images_show_the_asked_class():
    """The monitor's reader (trained on the run's images) reads real digits shown for their own
    label as that label, and the same digits shown for a shuffled label at about chance."""
    from ganforge.data import load_dataset
    from ganforge.monitor.probes import Probes
    data = load_dataset("digits")
    probes = Probes(data, {"z_dim": 4, "num_classes": 10}, "cpu", steps=500)
    assert probes.reader is not None and probes.reader_real > 0.8
    pool = {c: data.x[data.labels == c] for c in range(10)}

    class Shows(torch.nn.Module):
        """A 'G' that draws real digits of class draw(asked label)."""

        def __init__(self, draw):
            super().__init__()
            self.draw = draw

        def forward(self, z, y):
            return torch.stack([pool[self.draw(int(c))][i % 50] for i, c in enumerate(y)])

    shown = probes.signals(Shows(lambda c: c), call=1)
    ignored = probes.signals(Shows(lambda c: (c + 3) % 10), call=1)
    assert shown["probe_label_acc"] > 0.8 and ignored["probe_label_acc"] < 0.2
    assert shown["probe_label_acc_real"] == probes.reader_real and shown["probe_label_chance"] == 0.1
    assert Probes(data, {"z_dim": 4, "num_classes": 10}, "cpu", steps=100).reader is None  # short runs skip it


def test_the_class_recall_probe_finds_a_class_drawn_from_one_corner():
    """A 'G' that draws varied real digits for every class but one image for class 4: the
    per-class recall probe (reader features, saved generator) names class 4, near 0, while the
    median class stays covered; drawing every class varied keeps every class covered."""
    from ganforge.data import load_dataset
    from ganforge.monitor.probes import Probes
    data = load_dataset("digits")
    probes = Probes(data, {"z_dim": 4, "num_classes": 10}, "cpu", steps=500)
    pool = {c: data.x[data.labels == c] for c in range(10)}

    class Draws(torch.nn.Module):
        def __init__(self, one_image_class=None):
            super().__init__()
            self.one = one_image_class

        def forward(self, z, y):
            return torch.stack([pool[int(c)][0 if int(c) == self.one else (i * 7) % len(pool[int(c)])]
                                for i, c in enumerate(y)])

    varied = probes.signals(Draws(), call=1)
    collapsed = probes.signals(Draws(one_image_class=4), call=1)
    assert varied["probe_class_recall_min"] > 0.3 and varied["probe_class_recall_floor"] >= 0.5
    assert collapsed["probe_class_recall_worst"] == 4 and collapsed["probe_class_recall_min"] < 0.1
    assert collapsed["probe_class_recall_median"] > 0.3
    assert "probe_class_recall_min" not in probes.signals(Draws(), call=2)  # only with the recall probe


def _class_recall_records(worst, median=0.6, floor=0.9):
    return [{"step": 200 * (i + 1), "div": 0.8, "div_class_min": 0.7, "probe_recall": 0.5, "probe_recall_floor": 0.9,
             "probe_precision": 0.8, "probe_class_recall_min": w, "probe_class_recall_worst": 0,
             "probe_class_recall_floor": floor, "probe_class_recall_median": median} for i, w in enumerate(worst)]


def test_one_class_left_uncovered_while_the_rest_are_is_a_warning():
    f = _collapse(_class_recall_records([0.05, 0.04, 0.06]))
    assert f and f[0].severity == "warning" and f[0].evidence["class"] == 0
    # textures-100 cgan defaults, seed 1, steps 850-1,250: the brick class swings around 0
    assert _collapse(_class_recall_records([0.0582, 0.1534, 0.0], median=0.66))
    assert not _collapse(_class_recall_records([0.05, 0.04]))  # too few probes yet
    assert not _collapse(_class_recall_records([0.02, 0.06, 0.12]))  # climbing out
    assert not _collapse(_class_recall_records([0.05, 0.15, 0.2]))  # one low probe, then covered
    assert not _collapse(_class_recall_records([0.02, 0.03, 0.02], median=0.05))  # early: every class low
    assert not _collapse(_class_recall_records([0.02, 0.03, 0.02], floor=0.3))  # the real class itself varies little


def test_the_warning_stays_when_the_collapse_spreads_to_every_class():
    # textures-100 at 3,000 steps, seed 1: brick at 0 while the median class fell to 0.07-0.18 and
    # the label reader still read every image as its class (the warning had gone away)
    spread = _class_recall_records([0.0, 0.0, 0.0], median=0.12)
    read = [{**r, "probe_label_acc": 1.0, "probe_label_acc_real": 1.0, "probe_label_chance": 0.33} for r in spread]
    f = _collapse(read)
    assert f and f[0].finding == "mode_collapse" and f[0].severity == "warning"
    assert not _collapse(spread)  # no label probe: cannot tell it from early training
    early = [{**r, "probe_label_acc": a, "probe_label_acc_real": 1.0, "probe_label_chance": 0.33}
             for r, a in zip(spread, (0.1, 0.25, 0.4))]
    assert not _collapse(early)  # G does not draw its classes yet (and is learning them)
    weak = [{**r, "probe_label_acc": 0.5, "probe_label_acc_real": 0.5, "probe_label_chance": 0.33} for r in spread]
    assert not _collapse(weak)  # a reader near chance on real images cannot vouch
