"""What a new user hits (issue 23): options that work as documented, errors that name the right
command, class names as labels, progress during a long report, distinct default run folders."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import ganforge
from test_cli import _ce, _one_line_error  # one error line, exit 2

TINY = dict(steps=2, channels=4, batch_size=4, log_every=1, progress=False)


def _shapes(root, classes=("circle", "square"), per=24, size=12):
    """A folder of tiny RGB images in one sub-folder per class."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per):
            a = np.zeros((size, size, 3), np.uint8)
            a[2 + i % 3:8 + c, 3:9, c] = 255
            Image.fromarray(a).save(root / name / f"{i}.png")
    return root


def test_config_file_lr_and_yaml_exponent_text_then_resume_with_no_options(cli, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("loss: hinge\nlr: 2e-4\nsteps: 6\nlog_every: 3\n")  # YAML reads 2e-4 as text
    code, _, err = cli("train", "ring8", "--config", cfg, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert saved["lr_g"] == saved["lr_d"] == 2e-4 and saved["loss"] == "hinge"
    code, out, err = cli("resume", tmp_path / "r", "--steps", 9, "--quiet")  # no options retyped
    assert code == 0 and "to step 9" in out, err
    assert ganforge.Run(tmp_path / "r").config["config"]["loss"] == "hinge"


def test_image_size_resizes_built_in_sets_and_is_refused_for_points(cli, tmp_path):
    run = ganforge.train("digits", model="dcgan", image_size=16, out=tmp_path / "d", **TINY)
    assert run.config["data"]["shape"] == [1, 16, 16]
    assert ganforge.load(run.path).sample(3).samples.shape == (3, 16, 16, 1)
    _one_line_error(*_ce(cli("train", "ring8", "--image-size", 32, "--out", tmp_path / "p")), "--image-size", "points")


def test_the_api_takes_quiet(tmp_path, capsys):
    ganforge.train("ring8", steps=4, log_every=2, out=tmp_path / "q", quiet=True)
    assert "it/s" not in capsys.readouterr().err  # no progress bar


def test_a_folder_and_an_npz_of_the_same_name_get_their_own_default_runs(tmp_path):
    _shapes(tmp_path / "shapes")
    x = np.stack([np.asarray(Image.open(p)) for p in sorted((tmp_path / "shapes").rglob("*.png"))])
    np.savez(tmp_path / "shapes.npz", images=x)
    a = ganforge.train("shapes", model="dcgan", **TINY)
    b = ganforge.train("shapes.npz", model="dcgan", **TINY)  # used to be refused: same runs/shapes
    assert a.path != b.path and a.step == b.step == 2


@pytest.fixture(scope="module")
def shapes_cgan(tmp_path_factory):
    root = _shapes(tmp_path_factory.mktemp("data") / "shapes")
    return ganforge.train(root, model="cgan", out=root.parent / "run", **TINY).path


def test_label_takes_a_class_name_and_info_lists_the_classes(cli, shapes_cgan, tmp_path):
    code, out, err = cli("sample", shapes_cgan, "-n", 5, "--label", "square", "--out", tmp_path / "sq.npz")
    assert code == 0, err
    assert (np.load(tmp_path / "sq.npz")["labels"] == 1).all()
    code, _, _ = cli("sample", shapes_cgan, "-n", 5, "--label", 0, "--out", tmp_path / "c.npz")
    assert code == 0 and (np.load(tmp_path / "c.npz")["labels"] == 0).all()
    _one_line_error(*_ce(cli("sample", shapes_cgan, "--label", "triangle", "--out", tmp_path / "t.npz")),
                    "'triangle'", "0 = circle, 1 = square")
    assert not (tmp_path / "t.npz").exists()
    code, out, _ = cli("info", shapes_cgan)
    assert code == 0 and "0 = circle, 1 = square" in out
    assert (ganforge.load(shapes_cgan).sample(4, labels="circle").labels == 0).all()


def test_report_says_what_it_is_doing_while_it_evaluates(cli, shapes_cgan):
    code, out, err = cli("report", shapes_cgan, "-n", 20)
    assert code == 0, err
    assert "evaluating " in err and "  features:" in err and "  metrics:" in err
    assert err.index("evaluating ") < err.index("  metrics:")


def test_a_bad_inception_weights_file_is_described_in_words(cli, shapes_cgan, tmp_path):
    bad = tmp_path / "weights.pth"
    bad.write_text("hello\n")  # torch's own message for this is the bare number "101"
    _one_line_error(*_ce(cli("evaluate", shapes_cgan, "-n", 20, "--inception-weights", bad)),
                    "not a PyTorch weights file")
    bad.write_bytes(b"")
    _one_line_error(*_ce(cli("evaluate", shapes_cgan, "-n", 20, "--inception-weights", bad)), "empty")


def test_noise_commands_on_table_and_image_runs_name_the_command_to_use(cli, tmp_path):
    from ganforge.tabular import TabularGAN
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(["a", "b"], 60)})
    TabularGAN(epochs=1, batch_size=20, progress=False, verbose=False).fit(df, out=tmp_path / "tab")
    for cmd in (["sample", tmp_path / "tab", "--out", tmp_path / "x.npz"], ["evaluate", tmp_path / "tab"]):
        _one_line_error(*_ce(cli(*cmd)), "ganforge tabular sample")
    ganforge.train("photos", model="colorize", out=tmp_path / "col", image_size=32, **TINY)
    _one_line_error(*_ce(cli("sample", tmp_path / "col", "--out", tmp_path / "x.npz")), "ganforge colorize")


def test_loss_help_names_the_recipe_not_a_fixed_default(cli):
    code, out, _ = cli("train", "--help")
    assert code == 0
    loss_help = " ".join(out[out.index("--loss"):out.index("--preset")].split())
    assert "default ns" not in loss_help and "recipe" in loss_help
