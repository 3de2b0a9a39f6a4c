import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# The test models are tiny: one thread avoids OpenMP overhead and oversubscription.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Default run folders (runs/<data>) land in a temp dir, never in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli(capsys):
    """Run the ganforge CLI in-process; returns (exit_code, stdout, stderr)."""
    from ganforge.cli import main

    def run(*args):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


FAST = dict(progress=False, log_every=5, sample_every=10, ckpt_every=10)
