"""Nothing a user owns is overwritten or deleted without an explicit flag: apply commands never
write over their inputs or over each other's outputs, existing files need --overwrite, training
refuses a folder of someone else's files and never continues an old run's log, and benchmarks
never delete a folder under the user's --out."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ganforge

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def photos(tmp_path):
    """Two folders holding an image of the same name, plus a colour and a mask file."""
    rng = np.random.default_rng(0)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / sub / "cat.png")
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "a" / "dog.jpg")
    return tmp_path


def test_translate_refuses_two_inputs_with_one_output_name(cli, photos):
    code, _, err = cli("translate", FIXTURES / "pix2pix", photos / "a", photos / "b", "--out", photos / "o")
    assert code == 2 and "would both be written to" in err and len(err.splitlines()) == 1, err
    assert not (photos / "o").exists()


def test_translate_never_writes_over_its_inputs(cli, photos):
    before = files(photos / "a")
    for flags in ([], ["--overwrite"]):  # not even with the flag
        code, _, err = cli("translate", FIXTURES / "pix2pix", photos / "a", "--out", photos / "a", *flags)
        assert code == 2 and "is the input" in err, err
    assert files(photos / "a") == before


def test_translate_replaces_existing_outputs_only_with_overwrite(cli, photos):
    out = photos / "o"
    out.mkdir()
    (out / "cat.png").write_bytes(b"mine")
    code, _, err = cli("translate", FIXTURES / "pix2pix", photos / "a" / "cat.png", "--out", out)
    assert code == 2 and "--overwrite" in err and (out / "cat.png").read_bytes() == b"mine", err
    code, _, err = cli("translate", FIXTURES / "pix2pix", photos / "a" / "cat.png", "--out", out, "--overwrite")
    assert code == 0 and Image.open(out / "cat.png").size == (32, 32), err


@pytest.mark.parametrize("cmd, extra", [
    ("colorize", []), ("upscale", []), ("inpaint", ["--mask", "{a}/dog.jpg"])])
def test_single_image_commands_protect_input_and_existing_output(cli, photos, cmd, extra):
    a = photos / "a"
    extra = [e.format(a=a) for e in extra]
    before = files(a)
    code, _, err = cli(cmd, FIXTURES / cmd, a / "cat.png", *extra, "--out", a / "cat.png", "--overwrite")
    assert code == 2 and "is the input" in err, err
    if extra:  # the mask is an input too
        code, _, err = cli(cmd, FIXTURES / cmd, a / "cat.png", *extra, "--out", a / "dog.jpg", "--overwrite")
        assert code == 2 and "is the input" in err, err
    (photos / "mine.png").write_bytes(b"mine")
    code, _, err = cli(cmd, FIXTURES / cmd, a / "cat.png", *extra, "--out", photos / "mine.png")
    assert code == 2 and "already exists" in err and (photos / "mine.png").read_bytes() == b"mine", err
    assert files(a) == before


def test_sample_outputs_need_overwrite(cli, tmp_path):
    out = tmp_path / "s.npz"
    out.write_bytes(b"mine")
    code, _, err = cli("sample", FIXTURES / "vanilla", "-n", "8", "--out", out)
    assert code == 2 and "already exists" in err and out.read_bytes() == b"mine", err
    code, _, err = cli("sample", FIXTURES / "vanilla", "-n", "8", "--out", out, "--overwrite")
    assert code == 0 and np.load(out)["samples"].shape == (8, 2), err
    csv = tmp_path / "t.csv"
    csv.write_text("mine")
    code, _, err = cli("tabular", "sample", FIXTURES / "tabular", "-n", "5", "--out", csv)
    assert code == 2 and "already exists" in err and csv.read_text() == "mine", err


def test_tabular_evaluate_never_writes_over_its_tables(cli, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(20)))
    code, _, err = cli("tabular", "evaluate", real, real, "--json", real)
    assert code == 2 and "is the input" in err and real.read_text().startswith("a,b\n0,0"), err


def test_train_refuses_a_folder_of_other_files(cli, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    code, _, err = cli("train", "ring8", "--steps", "2", "--out", out, "--quiet")
    assert code == 2 and "not a ganforge run" in err and len(err.splitlines()) == 1, err
    assert files(out) == {"thesis.tex": b"years of work"}
    file = tmp_path / "file"
    file.write_text("x")
    code, _, err = cli("train", "ring8", "--steps", "2", "--out", file, "--quiet")
    assert code == 2 and file.read_text() == "x", err


def test_new_run_in_a_never_checkpointed_run_folder_starts_a_fresh_log(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.json").write_text("{}")  # a run killed before its first checkpoint
    (out / "log.jsonl").write_text(json.dumps({"step": 999, "old": True}) + "\n")
    run = ganforge.train("ring8", out=out, steps=4, hidden=8, depth=1, log_every=2, progress=False)
    assert run.log and not any(r.get("old") for r in run.log)
    assert max(r["step"] for r in run.log) == 4


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod


def test_evaluation_benchmark_retrain_never_deletes_a_run(tmp_path):
    mod = _module(ROOT / "benchmarks" / "evaluation.py")
    (tmp_path / "digits-cgan").mkdir()
    (tmp_path / "digits-cgan" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="does not delete"):
        mod.ensure_run("digits", "cgan", tmp_path, retrain=True)
    assert (tmp_path / "digits-cgan" / "notes.txt").read_text() == "mine"


def test_image_benchmark_trains_into_a_fresh_subfolder(tmp_path, monkeypatch):
    mod = _module(ROOT / "benchmarks" / "image_to_image.py")
    (tmp_path / "inpaint").mkdir()
    (tmp_path / "inpaint" / "notes.txt").write_text("mine")
    seen = []
    monkeypatch.setattr(mod, "bench_inpaint", lambda steps, out: seen.append(out) or [])
    monkeypatch.setattr(mod, "write_result", lambda *a, **k: None)  # not into benchmarks/results/
    monkeypatch.setattr(sys, "argv", ["image_to_image.py", "--only", "inpaint", "--out", str(tmp_path)])
    mod.main()
    assert (tmp_path / "inpaint" / "notes.txt").read_text() == "mine"
    assert seen[0].parent == tmp_path and seen[0].name != "inpaint"
    shutil.rmtree(seen[0])  # what the test itself made


def test_a_folder_is_written_whole_or_not_at_all(tmp_path):
    from ganforge.io.outputs import write_folder

    def half_then_fail(tmp):
        (tmp / "a.png").write_bytes(b"x")
        raise KeyboardInterrupt  # a user's Ctrl-C mid-way

    with pytest.raises(KeyboardInterrupt):
        write_folder(tmp_path / "synth", half_then_fail)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temp sibling is left
    write_folder(tmp_path / "synth", lambda tmp: (tmp / "b.png").write_bytes(b"y"))
    assert [p.name for p in (tmp_path / "synth").iterdir()] == ["b.png"]
