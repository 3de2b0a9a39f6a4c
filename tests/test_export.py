"""`ganforge export --format onnx`: the file runs in onnxruntime and gives torch's outputs."""
import numpy as np
import pytest
import torch

import ganforge
from conftest import FAST

ort = pytest.importorskip("onnxruntime")


def _parity(run_dir, onnx_file, n=5, size=None):
    from ganforge.apps.export import export_inputs, module_for
    from ganforge.artifacts.saved import read_generator
    net, info = read_generator(run_dir)
    names, example = export_inputs(info, n=n, size=size, seed=7)  # another batch size than exported
    with torch.no_grad():
        want = module_for(net, info)(*example).numpy()
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = sess.run(None, {k: v.numpy() for k, v in zip(names, example)})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-3)
    return want


@pytest.mark.parametrize("data,model,extra", [("ring8", None, {}),
                                              ("digits", "cgan", {"channels": 16})])
def test_onnx_export_of_noise_generators_matches_torch(cli, tmp_path, data, model, extra):
    run = ganforge.train(data, model=model, out=tmp_path / "run", steps=10, **extra, **FAST)
    code, out, err = cli("export", run.path, "--format", "onnx", "--out", tmp_path / "g.onnx")
    assert code == 0, err
    assert "wrote" in out
    y = _parity(run.path, tmp_path / "g.onnx")
    assert np.isfinite(y).all() and y.std() > 0  # a real, non-constant output
    # the same run through ganforge.load: the graph is the model behind .sample()
    assert ganforge.load(run.path).z_dim == ort.InferenceSession(str(tmp_path / "g.onnx")).get_inputs()[0].shape[1]


def test_onnx_export_of_an_image_to_image_generator_matches_torch(cli, tmp_path):
    run = ganforge.train("photos", model="inpaint", out=tmp_path / "inp", steps=2, **FAST)
    code, _, err = cli("export", run.path, "--onnx", tmp_path / "g.onnx", "--size", 48)
    assert code == 0, err
    _parity(run.path, tmp_path / "g.onnx", n=1, size=48)  # batch 1: see apps/export.py


def test_export_refuses_an_existing_file_and_a_missing_run(cli, tmp_path):
    (tmp_path / "g.onnx").write_text("keep")
    code, _, err = cli("export", tmp_path / "nope", "--out", tmp_path / "g.onnx")
    assert code == 2 and err.startswith("error:") and (tmp_path / "g.onnx").read_text() == "keep"
    code, _, err = cli("export", tmp_path / "nope", "--out", tmp_path / "h.onnx")
    assert code == 2 and "does not exist" in err and not (tmp_path / "h.onnx").exists()
