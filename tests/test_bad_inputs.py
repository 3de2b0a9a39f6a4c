"""Bad input at every entry point, as a user meets it: each case gets one `error:` line on
stderr, exit code 2, no traceback, and leaves every file as it was (nothing half-written).
The cases are listed, with what each gets, in docs/reliability.md."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ganforge

FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"


# ---- builders of bad files ---------------------------------------------------------------
def img(path: Path, size=(16, 16), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    arr = rng.integers(0, 256, (size[1], size[0], len(mode) if mode != "L" else 1), dtype=np.uint8)
    Image.fromarray(arr.squeeze(-1) if mode == "L" else arr, mode).save(path)
    return path


def write(path: Path, data: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def folder(t: Path, bad: str, data: bytes):
    """An image folder with four good images and one bad file."""
    for i in range(4):
        img(t / "imgs" / f"{i}.png")
    write(t / "imgs" / bad, data)


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature and header chunk claiming a huge size (a decompression bomb)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def npz(path: Path, **arrays):
    np.savez(path, **arrays)


def images(n=8, dtype=np.uint8):
    return np.random.default_rng(0).integers(0, 256, (n, 8, 8, 1)).astype(dtype)


def csv(t: Path, text: str, name="t.csv"):
    return write(t / name, text)


def table(n=30, extra=""):
    """A fittable CSV body of n rows (two columns), with optional text spliced into row 5."""
    rows = [f"{i * 1.37:.2f},{'ab'[i % 2]}" for i in range(n)]
    if extra:
        rows[5] = extra
    return "x,y\n" + "\n".join(rows) + "\n"


def run(t: Path, kind: str) -> Path:
    """A copy of a saved run of `kind` (written by ganforge 0.1.0), editable by the case."""
    dst = t / "runs" / kind
    shutil.copytree(FIXTURES / kind, dst)
    return dst


def edit_json(path: Path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def net_kwargs(**kw):
    return lambda d: d["net"]["kwargs"].update(kw)


def safetensors_claiming(size: int) -> bytes:
    """A safetensors file whose header length field claims `size` bytes."""
    return struct.pack("<Q", size) + b'{"__metadata__":{}}'


def trained(t: Path) -> Path:
    """A copy of a real 2-step ring8 run with a checkpoint (made once per session)."""
    dst = t / "runs" / "ring"
    shutil.copytree(_TRAINED, dst)
    return dst


_TRAINED: Path | None = None


@pytest.fixture(scope="module", autouse=True)
def _trained_run(tmp_path_factory):
    global _TRAINED
    _TRAINED = tmp_path_factory.mktemp("trained") / "ring"
    ganforge.train("ring8", out=_TRAINED, steps=2, hidden=8, depth=1, log_every=1, ckpt_every=2, progress=False)


# ---- the cases: (id, setup(t), argv, a word the error must contain) ------------------------
NPZ = ["train", "{t}/d.npz", "--out", "{t}/r", "--batch-size", "4"]  # 8 images: the error is not the batch size
CASES = [
    # image folders (ganforge train)
    ("folder-corrupt-image", lambda t: folder(t, "bad.png", b"not an image at all"),
     ["train", "{t}/imgs", "--out", "{t}/r"], "cannot read"),
    ("folder-truncated-png", lambda t: folder(t, "cut.png", img(t / "x" / "c.png", (64, 64)).read_bytes()[:200]),
     ["train", "{t}/imgs", "--out", "{t}/r"], "cut.png"),
    ("folder-zero-byte-jpg", lambda t: folder(t, "empty.jpg", b""),
     ["train", "{t}/imgs", "--out", "{t}/r"], "empty.jpg"),
    ("folder-decompression-bomb", lambda t: folder(t, "bomb.png", png_claiming(100_000, 100_000)),
     ["train", "{t}/imgs", "--out", "{t}/r"], "pixels"),
    ("folder-no-images", lambda t: write(t / "imgs" / "notes.txt", "hello"),
     ["train", "{t}/imgs", "--out", "{t}/r"], "no images"),
    ("folder-image-suffix-on-text", lambda t: folder(t, "readme.jpg", "this is text"),
     ["train", "{t}/imgs", "--out", "{t}/r"], "readme.jpg"),
    ("data-missing", lambda t: None, ["train", "{t}/nowhere", "--out", "{t}/r"], "unknown dataset"),
    ("data-csv-to-train", lambda t: csv(t, table()), ["train", "{t}/t.csv", "--out", "{t}/r"], "tabular fit"),
    # .npz (ganforge train)
    ("npz-wrong-key", lambda t: npz(t / "d.npz", pictures=images()), NPZ,
     "no 'images'"),
    ("npz-object-array", lambda t: np.savez(t / "d.npz", images=np.array([{"a": 1}] * 4, dtype=object)),
     NPZ, "d.npz"),
    ("npz-nan", lambda t: npz(t / "d.npz", images=np.where(images() > 250, np.nan, images() / 255)),
     NPZ, "NaN"),
    ("npz-inf", lambda t: npz(t / "d.npz", images=np.where(images() > 250, np.inf, images() / 255)),
     NPZ, "inf"),
    ("npz-text-dtype", lambda t: npz(t / "d.npz", images=np.full((4, 8, 8), "a")),
     NPZ, "numbers"),
    ("npz-complex-dtype", lambda t: npz(t / "d.npz", images=images().astype(np.complex64)),
     NPZ, "numbers"),
    ("npz-out-of-range", lambda t: npz(t / "d.npz", images=images(dtype=np.int32) * 300),
     NPZ, "0..255"),
    ("npz-wrong-shape", lambda t: npz(t / "d.npz", images=np.zeros((4, 8, 8, 5), np.uint8)),
     NPZ, "must be"),
    ("npz-empty", lambda t: npz(t / "d.npz", images=np.zeros((0, 8, 8), np.uint8)),
     NPZ, "N, H, W > 0"),
    ("npz-labels-2d", lambda t: npz(t / "d.npz", images=images(), labels=np.zeros((8, 2), int)),
     NPZ, "labels"),
    ("npz-labels-wrong-length", lambda t: npz(t / "d.npz", images=images(), labels=np.zeros(3, int)),
     NPZ, "labels"),
    ("npz-not-a-zip", lambda t: write(t / "d.npz", b"PK\x03\x04 garbage"), NPZ,
     "valid .npz"),
    ("npz-header-claims-terabytes", lambda t: _npz_claiming(t / "d.npz"), NPZ,
     "d.npz"),
    # CSV tables (ganforge tabular fit / evaluate)
    ("csv-inf", lambda t: csv(t, table(extra="inf,a")), ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "infinite"),
    ("csv-mixed-types", lambda t: csv(t, table().replace("1.37,", "zero,", 1)),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "mixes numbers and text"),
    ("csv-duplicate-header", lambda t: csv(t, table().replace("x,y", "x,x", 1)),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "more than once"),
    ("csv-empty-file", lambda t: csv(t, ""), ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "empty"),
    ("csv-header-only", lambda t: csv(t, "x,y\n"), ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "0 row"),
    ("csv-ragged-rows", lambda t: csv(t, table(extra="1,a,extra,more")),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "parse"),
    ("csv-binary", lambda t: write(t / "t.csv", bytes(range(256)) * 8),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "t.csv"),
    ("csv-latin1-as-utf8", lambda t: write(t / "t.csv", table(extra="1,caf\xe9").encode("latin-1")),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "latin-1"),
    ("csv-nothing-to-model", lambda t: csv(t, "id,c\n" + "".join(f"{i},k\n" for i in range(30))),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "no column"),
    ("csv-evaluate-other-columns", lambda t: (csv(t, table()), csv(t, table().replace("x,y", "p,q", 1), "s.csv")),
     ["tabular", "evaluate", "{t}/t.csv", "{t}/s.csv"], "column"),
    ("tabular-fit-into-foreign-folder", lambda t: (csv(t, table()), write(t / "r" / "notes.txt", "mine")),
     ["tabular", "fit", "{t}/t.csv", "--out", "{t}/r"], "not a ganforge run"),
    # config files (ganforge train --config)
    ("config-unknown-key", lambda t: write(t / "c.json", '{"warmup_steps": 10}'),
     ["train", "ring8", "--config", "{t}/c.json", "--out", "{t}/r"], "--warmup-steps"),
    ("config-wrong-type", lambda t: write(t / "c.json", '{"steps": "ten"}'),
     ["train", "ring8", "--config", "{t}/c.json", "--out", "{t}/r"], "steps"),
    ("config-bool-for-int", lambda t: write(t / "c.yaml", "batch_size: yes\n"),
     ["train", "ring8", "--config", "{t}/c.yaml", "--out", "{t}/r"], "batch_size"),
    ("config-list-not-mapping", lambda t: write(t / "c.json", "[1, 2]"),
     ["train", "ring8", "--config", "{t}/c.json", "--out", "{t}/r"], "mapping"),
    ("config-bad-json", lambda t: write(t / "c.json", '{"steps": 10,'),
     ["train", "ring8", "--config", "{t}/c.json", "--out", "{t}/r"], "cannot parse"),
    ("config-yaml-python-tag", lambda t: write(t / "c.yaml", "steps: !!python/object/apply:os.system ['true']\n"),
     ["train", "ring8", "--config", "{t}/c.yaml", "--out", "{t}/r"], "cannot parse"),
    ("config-not-utf8", lambda t: write(t / "c.yaml", b"steps: 10 # \xff\xfe\n"),
     ["train", "ring8", "--config", "{t}/c.yaml", "--out", "{t}/r"], "c.yaml"),
    ("config-nan-lr", lambda t: write(t / "c.yaml", "lr: .nan\n"),
     ["train", "ring8", "--config", "{t}/c.yaml", "--out", "{t}/r"], "finite number"),
    ("config-nested-value", lambda t: write(t / "c.json", '{"steps": {"a": 1}}'),
     ["train", "ring8", "--config", "{t}/c.json", "--out", "{t}/r"], "steps"),
    # run folders: half-written, newer, hostile
    ("run-missing", lambda t: None, ["sample", "{t}/runs/none", "--out", "{t}/s.npz"], "does not exist"),
    ("run-not-a-run", lambda t: write(t / "runs" / "x" / "a.txt", "x"), ["sample", "{t}/runs/x", "--out", "{t}/s.npz"],
     "no trained generator"),
    ("run-generator-json-truncated", lambda t: write(run(t, "vanilla") / "generator.json", '{"input": "no'),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "not valid JSON"),
    ("run-weights-truncated", lambda t: write(run(t, "vanilla") / "generator.safetensors",
                                              (FIXTURES / "vanilla" / "generator.safetensors").read_bytes()[:100]),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "damaged"),
    ("run-weights-header-claims-terabytes", lambda t: write(run(t, "vanilla") / "generator.safetensors",
                                                            safetensors_claiming(2 ** 42)),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "damaged"),
    ("run-checkpoint-header-claims-terabytes", lambda t: write(trained(t) / "checkpoint.safetensors",
                                                               safetensors_claiming(2 ** 42)),
     ["resume", "{t}/runs/ring"], "checkpoint"),
    ("run-checkpoint-truncated", lambda t: write(trained(t) / "checkpoint.safetensors",
                                                 (_TRAINED / "checkpoint.safetensors").read_bytes()[:500]),
     ["info", "{t}/runs/ring"], "checkpoint"),
    ("run-unknown-net", lambda t: edit_json(run(t, "vanilla") / "generator.json",
                                            lambda d: d["net"].update(net="os.system")),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "unknown network"),
    ("run-wrong-net-kwargs", lambda t: edit_json(run(t, "vanilla") / "generator.json", net_kwargs(colour="red")),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "cannot be built"),
    ("run-net-kwargs-claim-terabytes", lambda t: edit_json(run(t, "vanilla") / "generator.json",
                                                           net_kwargs(hidden=10 ** 12)),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "do not fit"),
    ("run-newer-input-kind", lambda t: edit_json(run(t, "vanilla") / "generator.json",
                                                 lambda d: d.update(input="hologram")),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "newer ganforge"),
    ("run-config-json-damaged", lambda t: write(trained(t) / "config.json", "{"), ["info", "{t}/runs/ring"],
     "config.json"),
    ("run-config-from-newer-version", lambda t: edit_json(trained(t) / "config.json", lambda d: d.pop("family")),
     ["info", "{t}/runs/ring"], "config.json"),
    ("run-weights-nan", lambda t: _nan_weights(run(t, "vanilla") / "generator.safetensors"),
     ["sample", "{t}/runs/vanilla", "--out", "{t}/s.npz"], "not finite"),
    ("run-resume-without-checkpoint", lambda t: _no_checkpoint(trained(t)), ["resume", "{t}/runs/ring"],
     "nothing to resume"),
    ("run-doctor-on-non-run", lambda t: write(t / "runs" / "x" / "a.txt", "x"), ["doctor", "{t}/runs/x"], "x"),
    ("run-report-on-non-run", lambda t: write(t / "runs" / "x" / "a.txt", "x"), ["report", "{t}/runs/x"], "x"),
    # wrong run kinds
    ("kind-sample-image-run", lambda t: run(t, "pix2pix"), ["sample", "{t}/runs/pix2pix", "--out", "{t}/s.npz"],
     "translate"),
    ("kind-sample-table-run", lambda t: run(t, "tabular"), ["sample", "{t}/runs/tabular", "--out", "{t}/s.npz"],
     "tabular sample"),
    ("kind-translate-noise-run", lambda t: (run(t, "vanilla"), img(t / "a.png")),
     ["translate", "{t}/runs/vanilla", "{t}/a.png", "--out", "{t}/o"], "ganforge sample"),
    ("kind-upscale-pix2pix-run", lambda t: (run(t, "pix2pix"), img(t / "a.png")),
     ["upscale", "{t}/runs/pix2pix", "{t}/a.png", "--out", "{t}/o.png"], "translate"),
    ("kind-colorize-srgan-run", lambda t: (run(t, "srgan"), img(t / "a.png")),
     ["colorize", "{t}/runs/srgan", "{t}/a.png", "--out", "{t}/o.png"], "upscale"),
    ("kind-inpaint-colorize-run", lambda t: (run(t, "colorize"), img(t / "a.png"), img(t / "m.png")),
     ["inpaint", "{t}/runs/colorize", "{t}/a.png", "--mask", "{t}/m.png", "--out", "{t}/o.png"], "colorize"),
    ("kind-tabular-sample-noise-run", lambda t: run(t, "vanilla"),
     ["tabular", "sample", "{t}/runs/vanilla", "--out", "{t}/s.csv"], "ganforge sample"),
    ("kind-evaluate-table-run", lambda t: run(t, "tabular"), ["evaluate", "{t}/runs/tabular"], "tabular"),
    ("kind-evaluate-image-run", lambda t: run(t, "pix2pix"), ["evaluate", "{t}/runs/pix2pix"], "pix2pix"),
    ("kind-resume-table-run", lambda t: run(t, "tabular"), ["resume", "{t}/runs/tabular"], "tabular"),
    ("kind-export-table-run", lambda t: run(t, "tabular"), ["export", "{t}/runs/tabular", "--out", "{t}/g.onnx"],
     "'table'"),
    ("kind-generate-noise-run", lambda t: run(t, "vanilla"),
     ["generate", "{t}/runs/vanilla", "--text", "a cat", "--out", "{t}/g.png"], "vanilla"),
    ("kind-mix-vanilla-run", lambda t: run(t, "vanilla"), ["mix", "{t}/runs/vanilla", "--coarse", "1,2", "--fine", "3",
                                                  "--out", "{t}/m.png"],
     "stylegan"),
    ("kind-project-vanilla-run", lambda t: (run(t, "vanilla"), img(t / "a.png")),
     ["project", "{t}/runs/vanilla", "{t}/a.png", "--out", "{t}/p.png"], "stylegan"),
    ("kind-walk-table-run", lambda t: run(t, "tabular"), ["walk", "{t}/runs/tabular", "--out", "{t}/w.gif"],
     "tabular"),
    ("kind-synthesize-image-run", lambda t: run(t, "pix2pix"), ["synthesize", "{t}/runs/pix2pix", "--per-class", "4",
                                                     "--out", "{t}/s.npz"],
     "pix2pix"),
    ("kind-anomaly-score-noise-run", lambda t: (run(t, "vanilla"), img(t / "imgs" / "0.png")),
     ["anomaly", "score", "{t}/runs/vanilla", "{t}/imgs", "--out", "{t}/s.csv"], "vanilla"),
    ("anomaly-fit-corrupt-folder", lambda t: folder(t, "bad.png", b"not an image"),
     ["anomaly", "fit", "{t}/imgs", "--out", "{t}/r"], "bad.png"),
    # apply-command inputs
    ("apply-mask-not-an-image", lambda t: (run(t, "inpaint"), img(t / "a.png"), write(t / "m.png", "no")),
     ["inpaint", "{t}/runs/inpaint", "{t}/a.png", "--mask", "{t}/m.png", "--out", "{t}/o.png"], "mask"),
    ("apply-image-corrupt", lambda t: (run(t, "srgan"), write(t / "a.png", b"\x89PNG\r\n\x1a\nxx")),
     ["upscale", "{t}/runs/srgan", "{t}/a.png", "--out", "{t}/o.png"], "cannot read"),
    ("apply-out-wrong-suffix", lambda t: (run(t, "srgan"), img(t / "a.png")),
     ["upscale", "{t}/runs/srgan", "{t}/a.png", "--out", "{t}/o.txt"], "must end in"),
    ("sample-out-wrong-suffix", lambda t: run(t, "vanilla"), ["sample", "{t}/runs/vanilla", "--out", "{t}/s.txt"],
     "must end in"),
    ("sample-label-on-unconditional", lambda t: run(t, "dcgan"),
     ["sample", "{t}/runs/dcgan", "--label", "3", "--out", "{t}/s.npz"], "label"),
    ("tabular-condition-unknown-column", lambda t: run(t, "tabular"),
     ["tabular", "sample", "{t}/runs/tabular", "--condition", "nope=1", "--out", "{t}/s.csv"], "nope"),
]


def _npz_claiming(path: Path):
    """An .npz whose 'images' member header claims a (10^7, 10^4, 10^4) uint8 array (a petabyte)."""
    import io
    import zipfile
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False,
                                               "shape": (10 ** 7, 10 ** 4, 10 ** 4)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images.npy", buf.getvalue() + b"\0" * 100)


def _nan_weights(path: Path):
    from safetensors.torch import load_file, save_file
    state = load_file(str(path))
    next(iter(state.values())).view(-1)[0] = float("nan")
    save_file(state, str(path))


def _no_checkpoint(path: Path) -> Path:
    (path / "checkpoint.safetensors").unlink()
    return path


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("setup, argv, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(tmp_path, cli, setup, argv, needle):
    t = tmp_path / "case"
    t.mkdir()
    setup(t)
    before = snapshot(tmp_path)
    code, _, err = cli(*[a.format(t=t) for a in argv])
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before, "files changed"


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


SUBPROCESS = ["folder-decompression-bomb", "npz-object-array", "csv-binary", "config-yaml-python-tag",
              "run-weights-header-claims-terabytes", "run-unknown-net"]


@pytest.mark.parametrize("name", SUBPROCESS)
def test_no_traceback_reaches_stderr_of_the_real_command(tmp_path, name):
    """The installed entry point, in its own process: stderr is exactly one `error:` line."""
    _, setup, argv, _ = next(c for c in CASES if c[0] == name)
    setup(tmp_path)
    p = subprocess.run([sys.executable, "-m", "ganforge", *[a.format(t=tmp_path) for a in argv]],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_odd_but_valid_inputs_are_accepted(tmp_path, cli):
    """Not errors: a folder mixing every image mode (converted to RGB, alpha on white), and a
    CSV with a byte-order mark, missing cells and quoted commas."""
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8))
    (tmp_path / "imgs").mkdir()
    for mode in ("L", "LA", "1", "P", "RGBA", "I;16", "CMYK"):
        im = rgb.convert("L").convert(mode) if mode == "I;16" else rgb.convert(mode)
        im.save(tmp_path / "imgs" / f"{mode.replace(';', '_')}.{'jpg' if mode == 'CMYK' else 'png'}")
    code, out, err = cli("train", tmp_path / "imgs", "--model", "dcgan", "--steps", 1, "--batch-size", 4,
                         "--channels", 4, "--out", tmp_path / "r", "--quiet")
    info = json.loads((tmp_path / "r" / "config.json").read_text())["data"]["info"]
    assert code == 0 and "RGB" in info["channels"], err
    rows = "".join(f'{i * 1.37:.2f},"{"a,b" if i % 2 else "c"}",{"" if i % 5 == 0 else i % 3}\n' for i in range(40))
    write(tmp_path / "t.csv", ("\ufeffx,y,z\n" + rows).encode("utf-8"))
    code, out, err = cli("tabular", "fit", tmp_path / "t.csv", "--epochs", 1, "--batch-size", 10, "--out",
                         tmp_path / "tab", "--quiet")
    assert code == 0, err
    code, out, err = cli("tabular", "sample", tmp_path / "tab", "-n", 20, "--out", tmp_path / "s.csv")
    assert code == 0 and (tmp_path / "s.csv").read_text().startswith("x,y,z\n"), err


def test_resume_takes_its_data_from_the_checkpoint_not_an_edited_config_json(tmp_path, cli):
    """A run folder's config.json naming data outside it (`..`) does not redirect training."""
    for i in range(4):
        img(tmp_path / "outside" / f"{i}.png")
    ring = trained(tmp_path)
    edit_json(ring / "config.json", lambda d: d["config"].update(data="../../outside"))
    code, _, err = cli("resume", ring, "--steps", 3, "--quiet")
    assert code == 0, err
    assert json.loads((ring / "config.json").read_text())["config"]["data"] == "ring8"
