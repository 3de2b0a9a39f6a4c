"""The CLI: happy paths and one-line errors with exit code 2 for user mistakes."""
import json

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    import ganforge
    out = tmp_path_factory.mktemp("runs") / "ring"
    ganforge.train("ring8", out=out, steps=20, progress=False, log_every=10, sample_every=20, ckpt_every=20)
    return out


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    import ganforge
    out = tmp_path_factory.mktemp("runs") / "cgan"
    ganforge.train("digits", model="cgan", out=out, steps=10, channels=16, progress=False,
                   log_every=5, sample_every=10, ckpt_every=10)
    return out


def test_train_cli_writes_a_run(cli, tmp_path):
    code, out, err = cli("train", "ring8", "--steps", 12, "--log-every", 4, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    assert "trained vanilla on ring8 to step 12" in out
    for name in ("config.json", "log.jsonl", "checkpoint.safetensors", "generator.json", "generator.safetensors"):
        assert (tmp_path / "r" / name).exists(), name
    log = [json.loads(x) for x in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [4, 8, 12]
    assert {"d_loss", "g_loss", "D_real", "D_fake"} <= log[-1].keys()
    assert list((tmp_path / "r" / "samples").glob("step_*.png"))


def test_sample_npz_points(cli, ring_run, tmp_path):
    code, out, err = cli("sample", ring_run, "-n", 50, "--out", tmp_path / "s.npz")
    assert code == 0, err
    f = np.load(tmp_path / "s.npz")
    assert f["samples"].shape == (50, 2) and f["samples"].dtype == np.float32 and "labels" not in f
    assert "sample filter on" in out and (ring_run / "filter.safetensors").exists()
    code, out, err = cli("sample", ring_run, "-n", 50, "--out", tmp_path / "raw.npz", "--no-filter")
    assert code == 0 and "filter" not in out, err
    raw = np.load(tmp_path / "raw.npz")["samples"]
    kept = f["samples"]
    same = (raw == kept).all(axis=1)  # accepted fakes are the same draws; rejected ones redrawn
    assert same.any() and not same.all()


def test_sample_filter_redraws_what_its_discriminator_rejects():
    import torch
    from ganforge.artifacts.noise import Generator

    class Shift(torch.nn.Module):  # G: z -> z (2-D)
        def forward(self, z, y=None):
            return z

    class RightHalf(torch.nn.Module):  # "D": logit = x coordinate
        def forward(self, x, y=None):
            return x[:, :1], None

    info = {"z_dim": 2, "num_classes": 0, "data": {"kind": "points"}, "filter": {"threshold": 0.0}}
    gen = Generator(Shift(), info, filter_net=RightHalf())
    x, _ = gen.sample_tensor(1000, seed=3)
    assert (x[:, 0] >= 0).all()  # every rejected draw was replaced by an accepted one
    raw, _ = gen.sample_tensor(1000, seed=3, filter=False)
    assert (raw[:, 0] < 0).float().mean() > 0.4 and torch.equal(x[raw[:, 0] >= 0], raw[raw[:, 0] >= 0])


def test_sample_npz_images_with_labels(cli, cgan_run, tmp_path):
    code, _, err = cli("sample", cgan_run, "-n", 30, "--out", tmp_path / "s.npz")
    assert code == 0, err
    f = np.load(tmp_path / "s.npz")
    assert f["samples"].shape == (30, 8, 8, 1) and f["samples"].dtype == np.uint8
    assert f["labels"].dtype == np.int64 and len(set(f["labels"].tolist())) > 3  # uniform draws
    code, _, _ = cli("sample", cgan_run, "-n", 12, "--label", 7, "--out", tmp_path / "seven.npz")
    assert code == 0 and (np.load(tmp_path / "seven.npz")["labels"] == 7).all()
    code, _, _ = cli("sample", cgan_run, "-n", 20, "--out", tmp_path / "grid.png")
    assert code == 0 and Image.open(tmp_path / "grid.png").size[0] >= 64


def test_info_and_report(cli, cgan_run):
    code, out, _ = cli("info", cgan_run)
    assert code == 0 and "cgan on digits" in out and "10/10 steps" in out
    code, out, _ = cli("info", cgan_run, "--json")
    assert json.loads(out)["step"] == 10
    code, out, _ = cli("report", cgan_run)
    assert code == 0
    page = (cgan_run / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "</html>" in page


def _one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("args,needles", [
    (["train", "mnist6k"], ["unknown dataset 'mnist6k'"]),
    (["train", "ring8", "--model", "stylegan9"], ["unknown model 'stylegan9'", "choose one of"]),
    (["train", "ring8", "--loss", "magic"], ["magic"]),
    (["train", "ring8", "--steps", "0"], ["--steps must be at least 1"]),
    (["train", "ring8", "--r1-gamma", "0.1", "--r1-every", "0"], ["--r1-every must be at least 1"]),
    (["train", "ring8", "--lr", "-1"], ["must be positive"]),
    (["train", "ring8", "--steps", "ten"], ["ten"]),
    (["train", "ring8", "--model", "dcgan"], ["needs images", "--model vanilla"]),
    (["train", "ring8", "--config", "/no/such.yaml"], ["does not exist"]),
    (["train", "./no/such/folder"], ["no such file or folder"]),
    (["sample", "/no/such/run", "--out", "x.npz"], ["does not exist"]),
    (["info", "/no/such/run"], ["not a ganforge run"]),
])
def test_bad_input_is_one_line_exit_2(cli, args, needles):
    code, out, err = cli(*args)
    assert not out.strip(), out  # the refusal is all a user sees: no "what trains on what" before it
    _one_line_error(code, err, *needles)


def test_bad_folder_inputs(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("train", tmp_path / "empty", "--out", tmp_path / "r")
    _one_line_error(code, err, "holds no images")
    Image.new("RGB", (16, 16)).save(tmp_path / "ok.png")
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "cut.png").write_bytes((tmp_path / "ok.png").read_bytes()[:30])
    code, _, err = cli("train", tmp_path / "imgs", "--out", tmp_path / "r")
    _one_line_error(code, err, "cannot read image", "cut.png")
    assert not (tmp_path / "r").exists()  # nothing half-written
    (tmp_path / "t.csv").write_text("a,b\n1,x\n2,y\n")
    code, _, err = cli("train", tmp_path / "t.csv", "--out", tmp_path / "r")
    _one_line_error(code, err, "is a table", "ganforge tabular fit")
    assert not (tmp_path / "r").exists()


def test_bad_sample_inputs(cli, cgan_run, ring_run, tmp_path):
    _one_line_error(*_ce(cli("sample", cgan_run, "--label", 12, "--out", tmp_path / "a.npz")), "out of range")
    _one_line_error(*_ce(cli("sample", ring_run, "--label", 1, "--out", tmp_path / "a.npz")), "unconditional")
    _one_line_error(*_ce(cli("sample", ring_run, "--out", tmp_path / "a.txt")), ".npz or .png")
    _one_line_error(*_ce(cli("sample", ring_run, "-n", 0, "--out", tmp_path / "a.npz")), "at least 1")
    assert not (tmp_path / "a.npz").exists()


def _ce(result):
    return result[0], result[2]


def test_resume_rules(cli, tmp_path):
    out = tmp_path / "r"
    assert cli("train", "ring8", "--steps", 10, "--out", out, "--quiet")[0] == 0
    _one_line_error(*_ce(cli("train", "ring8", "--steps", 20, "--out", out)), "already holds a run", "--resume")
    _one_line_error(*_ce(cli("train", "ring8", "--steps", 20, "--lr", 0.01, "--out", out, "--resume")),
                    "cannot resume", "lr_g")
    _one_line_error(*_ce(cli("train", "ring8", "--out", tmp_path / "new", "--resume")), "nothing to resume")
    code, out_text, err = cli("train", "ring8", "--steps", 20, "--out", out, "--resume", "--quiet")
    assert code == 0 and "to step 20" in out_text, err
