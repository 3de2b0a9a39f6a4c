"""Feature extractors: shipped weights and cards, held-out accuracy, FID sanity on real data,
the FID InceptionV3 architecture (random weights: the real ones cannot be downloaded here),
and the extractor trained on a user's own data."""
import hashlib
import json

import numpy as np
import pytest
import torch

from ganforge.data.base import Dataset
from ganforge.io.errors import GanforgeError
from ganforge.metrics import extractors as E
from ganforge.metrics.extractor_data import DATA, heldout
from ganforge.metrics.fid import fid
from ganforge.metrics.inception import FEATURE_DIM, FIDInceptionV3, load_inception

SHIPPED = ["mnist-cnn", "digits-cnn", "fashion-cnn"]


def _needs(name):
    if name == "fashion-cnn":
        from ganforge.data.builtin import FASHION_DIR
        if not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").exists():
            pytest.skip("dataset-fashion-mnist is not installed")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_are_small_and_match_their_card(name):
    card = json.loads((E.WEIGHTS_DIR / f"{name}.json").read_text())
    weights = (E.WEIGHTS_DIR / f"{name}.safetensors").read_bytes()
    assert len(weights) < 2_000_000
    assert hashlib.sha256(weights).hexdigest() == card["sha256"]
    for key in ("data", "split", "heldout_accuracy", "accuracy_floor", "seed", "architecture",
                "feature_dim", "classes", "trained_with"):
        assert key in card, key
    ext = E.load_builtin(name)
    f, p = ext(torch.zeros(3, *card["input_shape"]))
    assert f.shape == (3, card["feature_dim"]) and p.shape == (3, len(card["classes"]))
    assert np.allclose(p.sum(1), 1)


@pytest.mark.parametrize("name", SHIPPED)
def test_extractor_accuracy_on_heldout_real_data_meets_stated_floor(name):
    _needs(name)
    torch.set_num_threads(1)
    ext = E.load_builtin(name)
    x, y = heldout(name, ext.card["seed"])
    _, probs = ext(x)
    acc = float((probs.argmax(1) == y.numpy()).mean())
    assert acc >= ext.card["accuracy_floor"]
    assert acc == pytest.approx(ext.card["heldout_accuracy"], abs=0.005)  # the card tells the truth


def test_real_vs_real_fid_is_near_the_floor_and_far_below_noise():
    ext = E.load_builtin("mnist-cnn")
    data, (train_x, _), (x, _), _ = DATA["mnist-cnn"](0)   # x: 1,000 held-out real digits
    rest = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(1))
    a, b, c = train_x[rest[:1000]], train_x[rest[1000:2000]], x
    fa, fb, fc = ext(a)[0], ext(b)[0], ext(c)[0]
    floor, held_out = fid(fb, fa), fid(fc, fa)          # two real sets vs the same reference
    noise = fid(ext(torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1)[0], fa)
    blurred = torch.nn.functional.avg_pool2d(b, 3, stride=1, padding=1)
    blur = fid(ext(blurred)[0], fa)
    assert held_out == pytest.approx(floor, rel=0.5)    # fresh real data scores like the floor
    assert floor < blur < noise and noise > 30 * floor


def test_inception_architecture_with_random_weights(tmp_path):
    torch.manual_seed(0)
    net = FIDInceptionV3()
    # 2048-d pool3 features, 1008 logits, for grey or RGB input of any size
    path = tmp_path / "pt_inception_random.pth"
    torch.save(net.state_dict(), path)
    ext = E.inception_extractor(path)
    assert ext.comparable and ext.feature_dim == FEATURE_DIM == 2048
    f, p = ext(torch.rand(1, 1, 28, 28) * 2 - 1)
    assert f.shape == (1, 2048) and p.shape == (1, 1008) and np.isfinite(f).all()
    assert (f >= 0).all()                               # pool3 follows a ReLU
    ref, _ = net.eval()(torch.rand(1, 3, 40, 40))
    assert ref.shape == (1, 2048)


def test_inception_weights_file_errors(tmp_path):
    with pytest.raises(GanforgeError, match="does not exist"):
        load_inception(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(GanforgeError, match="cannot read"):
        load_inception(junk)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(GanforgeError, match="FID InceptionV3"):
        load_inception(wrong)


def _bars(n, labelled, seed=0):
    """16x16 images: class 0 = a horizontal bar, class 1 = a vertical bar, at random places."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 1, 16, 16), -1.0)
    y = torch.randint(2, (n,), generator=g)
    pos = torch.randint(2, 14, (n,), generator=g)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, pos[i] - 1:pos[i] + 1, 2:14] = 1
        else:
            x[i, 0, 2:14, pos[i] - 1:pos[i] + 1] = 1
    x += 0.1 * torch.randn(x.shape, generator=g)
    return Dataset("bars", "images", x, y if labelled else None, ["h", "v"] if labelled else [],
                   info={"source": "test bars"})


def test_user_extractor_trains_on_labels_and_is_cached(tmp_path):
    torch.set_num_threads(1)
    data = _bars(300, labelled=True)
    ext = E.user_extractor(data, tmp_path, budget=4000)
    assert ext.name == "user-cnn" and not ext.comparable and ext.is_classifier
    assert "NOT comparable" in ext.describe()
    assert ext.card["task"] == "classes" and ext.card["heldout_accuracy"] > 0.9
    stamp = (tmp_path / "extractor.safetensors").stat().st_mtime_ns
    again = E.choose(data, tmp_path)                     # unknown data -> the run's own, cached
    assert again.name == "user-cnn"
    assert (tmp_path / "extractor.safetensors").stat().st_mtime_ns == stamp
    assert np.allclose(again(data.x[:5])[0], ext(data.x[:5])[0], atol=1e-5)


def test_user_extractor_without_labels_uses_rotation(tmp_path):
    torch.set_num_threads(1)
    ext = E.user_extractor(_bars(120, labelled=False), tmp_path, budget=3000)
    assert ext.card["task"] == "rotation" and not ext.is_classifier
    f, p = ext(torch.zeros(2, 1, 16, 16))
    assert f.shape == (2, 128) and p is None


def test_choose_rejects_mismatched_extractor(tmp_path):
    with pytest.raises(GanforgeError, match="expects images of shape"):
        E.choose(_bars(20, True), tmp_path, name="mnist-cnn")
    with pytest.raises(GanforgeError, match="no shipped extractor"):
        E.choose(_bars(20, True), tmp_path, name="nope")
