"""`ganforge train --tensorboard`: event files the TensorBoard reader reads back."""
import json

import pytest

import ganforge
from conftest import FAST

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from ganforge.report.tensorboard import TensorBoardWriter  # noqa: E402


def _read(run_dir):
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_grids_and_findings_reach_tensorboard(tmp_path):
    tb = TensorBoardWriter()
    run = ganforge.train("ring8", out=tmp_path / "r", steps=20, callbacks=[tb], **FAST)
    tb.close(run.path)
    acc = _read(run.path)
    logged = [r["step"] for r in run.log if "d_loss" in r]
    assert [e.step for e in acc.Scalars("d_loss")] == logged == [5, 10, 15, 20]  # the last one too
    assert [round(e.value, 5) for e in acc.Scalars("D_real")] == [round(r["D_real"], 5) for r in run.log if "D_real" in r]
    assert [e.step for e in acc.Images("samples")] == [10, 20]
    # a finding logged later is written as text on the next sync, once
    with open(run.path / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": 20, "finding": "d_overpowering", "severity": "warning", "onset": 10,
                            "evidence": {"D_acc": "0.99"}, "advice": "lower --lr-d"}) + "\n")
    again = TensorBoardWriter(run.path)
    again.sync()
    again.close()
    text = _read(run.path).Tensors("health/findings/text_summary")
    assert len(text) == 1 and b"d_overpowering" in text[0].tensor_proto.string_val[0]


def test_train_cli_flag(cli, tmp_path):
    code, out, err = cli("train", "ring8", "--steps", 10, "--out", tmp_path / "r", "--quiet", "--tensorboard",
                         "--log-every", 5, "--sample-every", 10)
    assert code == 0, err
    assert [e.step for e in _read(tmp_path / "r").Scalars("g_loss")] == [5, 10]
