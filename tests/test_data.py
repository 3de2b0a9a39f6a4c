import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data import builtin
from ganforge.io.errors import GanforgeError


def test_ring8_geometry_matches_pacgan():
    d = load_dataset("ring8")
    means = torch.tensor(d.info["means"])
    assert len(means) == 8 and d.info["sd"] == 0.01
    # 8 distinct means on the unit circle at 2πk/8 (the linspace(0, 2π, 8) bug gives 7)
    assert torch.allclose(means.norm(dim=1), torch.ones(8), atol=1e-6)
    angles = sorted((math.atan2(y, x) % (2 * math.pi)) for x, y in means.tolist())
    assert np.allclose(np.diff(angles), 2 * math.pi / 8, atol=1e-6)
    x, k = d.sampler(20000, torch.Generator().manual_seed(0))
    resid = x - means[k]
    assert abs(resid.std().item() - 0.01) < 0.001


def test_grid25_geometry():
    d = load_dataset("grid25")
    means = torch.tensor(d.info["means"])
    assert sorted(set(means[:, 0].tolist())) == [-4, -2, 0, 2, 4] and len(means) == 25
    assert d.info["sd"] == 0.05


@pytest.mark.parametrize("name,shape,n", [("digits", (1, 8, 8), 1797), ("mnist5k", (1, 28, 28), 5000)])
def test_builtin_images(name, shape, n):
    d = load_dataset(name)
    assert d.shape == shape and len(d.x) == n and d.num_classes == 10
    assert d.x.min() >= -1 and d.x.max() <= 1
    assert torch.bincount(d.labels).min() > 100


def test_fashion_missing_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(builtin, "FASHION_DIR", tmp_path / "nope")
    with pytest.raises(GanforgeError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


def test_fashion_when_installed():
    if not builtin.FASHION_DIR.exists():
        pytest.skip("dataset-fashion-mnist not installed")
    d = load_dataset("fashion-mnist")
    assert d.shape == (1, 28, 28) and len(d.x) == 60000 and d.class_names[9] == "Ankle boot"


def _img(path, size, mode="RGB", color=(200, 10, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    c = color if mode != "L" else color[0]
    if mode == "RGBA":
        c = (*color, 0)  # fully transparent: must composite to white
    Image.new(mode, size, c).save(path)


def test_folder_classes_mixed_sizes_and_alpha(tmp_path):
    _img(tmp_path / "cats" / "a.png", (40, 30))
    _img(tmp_path / "cats" / "sub" / "b.jpg", (64, 64))
    _img(tmp_path / "dogs" / "c.webp", (33, 50), mode="RGBA")
    _img(tmp_path / "dogs" / "d.bmp", (32, 32), mode="L")
    d = load_dataset(str(tmp_path), image_size=16)
    assert d.shape == (3, 16, 16) and d.class_names == ["cats", "dogs"]
    assert d.labels.tolist() == [0, 0, 1, 1]
    # transparent image became white
    assert torch.allclose(d.x[2], torch.ones(3, 16, 16))
    assert "centre-crop" in d.info["resize"]


def test_folder_all_greyscale_stays_one_channel(tmp_path):
    for i in range(3):
        _img(tmp_path / f"{i}.png", (20, 20), mode="L")
    d = load_dataset(str(tmp_path))
    assert d.shape[0] == 1 and d.labels is None and d.shape[1] == 20


def test_empty_folder_and_truncated_image(tmp_path):
    with pytest.raises(GanforgeError, match="holds no images"):
        load_dataset(str(tmp_path))
    _img(tmp_path / "ok.png", (16, 16))
    bad = tmp_path / "bad.png"
    bad.write_bytes((tmp_path / "ok.png").read_bytes()[:40])
    with pytest.raises(GanforgeError, match="cannot read image .*bad.png"):
        load_dataset(str(tmp_path))


def test_npz(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=imgs, labels=np.array([5, 7] * 5))
    d = load_dataset(str(tmp_path / "a.npz"))
    assert d.shape == (3, 8, 8) and d.class_names == ["5", "7"] and d.labels.tolist()[:2] == [0, 1]
    assert torch.allclose(d.x[0].permute(1, 2, 0), torch.from_numpy(imgs[0]).float() / 127.5 - 1)
    np.savez(tmp_path / "b.npz", pics=imgs)
    with pytest.raises(GanforgeError, match="no 'images' array"):
        load_dataset(str(tmp_path / "b.npz"))
    with pytest.raises(GanforgeError, match="unknown dataset"):
        load_dataset("no-such-thing")


def test_stream_resume_is_exact():
    d = load_dataset("digits")
    a = d.stream(64, seed=3)
    for _ in range(40):  # crosses an epoch boundary
        a.next()
    b = d.stream(64, seed=3)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.next()[0], b.next()[0])


@pytest.mark.parametrize("values,dtype,scale", [((0, 255), np.uint8, "uint8 0..255"), ((0.0, 1.0), np.float32, "float [0, 1]"),
                                                ((-1.0, 1.0), np.float32, "float [-1, 1]"),
                                                ((0.0, 255.0), np.float64, "float 0..255")])
def test_npz_value_range_is_detected(tmp_path, values, dtype, scale):
    # A [-1, 1] set used to be read as [0, 1] and land in [-3, 1].
    lo, hi = values
    imgs = np.linspace(lo, hi, 4 * 6 * 6).reshape(4, 6, 6).astype(dtype)
    np.savez(tmp_path / "a.npz", images=imgs)
    d = load_dataset(str(tmp_path / "a.npz"))
    assert d.info["range"] == scale
    assert d.x.min().item() == pytest.approx(-1) and d.x.max().item() == pytest.approx(1)


@pytest.mark.parametrize("values", [(-2.0, 1.0), (0.0, 300.0), (-0.5, 2.0)])
def test_npz_ambiguous_range_names_the_fix(tmp_path, values):
    np.savez(tmp_path / "a.npz", images=np.linspace(*values, 64).reshape(4, 4, 4).astype(np.float32))
    with pytest.raises(GanforgeError, match=r"none of \[0, 1\], \[-1, 1\] or 0..255; save the images as uint8"):
        load_dataset(str(tmp_path / "a.npz"))


@pytest.mark.parametrize("reader, name, says", [
    ("ganforge.data.audio:read_audio", "ring8", "'ring8' is points, not audio; built-in audio sets: "),
    ("ganforge.data.series:read_series", "digits", "'digits' is images, not a time series; built-in series sets: sines"),
])
def test_a_builtin_set_of_another_kind_is_refused_naming_those_of_this_kind(reader, name, says):
    import importlib
    module, func = reader.split(":")
    with pytest.raises(GanforgeError) as e:
        getattr(importlib.import_module(module), func)(name)
    assert str(e.value).startswith(says) and "or pass" in str(e.value)
