import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# The test models are tiny: one thread avoids OpenMP overhead and oversubscription.
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _text_cache(tmp_path_factory):
    """Caption embeddings are cached for the session in a temp folder, not in ~/.cache."""
    os.environ.setdefault("GANFORGE_CACHE", str(tmp_path_factory.mktemp("ganforge-cache")))


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Default run folders (runs/<data>) land in a temp dir, never in the repo; timegan's
    training-time judges (on by default) take 30 Adam steps instead of 1,000 (same code path)."""
    monkeypatch.chdir(tmp_path)
    from ganforge.metrics import callback
    monkeypatch.setattr(callback, "JUDGE_ITERATIONS", 30)


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


class InjectNaN:
    """Callback that, at its first call, hooks G's first weight to turn its gradient NaN once at `step`."""

    def __init__(self, step):
        self.step, self.done = step, False

    def __call__(self, trainer, record):
        if getattr(self, "hooked", False):
            return
        self.hooked = True
        p = next(trainer.family.nets["G"].parameters())

        def hook(g):
            if trainer.step == self.step - 1 and not self.done:  # during the update to `step`
                self.done = True
                return g * float("nan")
            return g
        p.register_hook(hook)


class IgnoreNoise:
    """Callback that, from its first call on, makes G's `method` (e.g. "forward", or text2img's
    "render") run on zero noise (its first argument): a G that ignores z, one image per condition."""

    def __init__(self, method: str = "forward"):
        self.method, self.hooked = method, False

    def __call__(self, trainer, record):
        if not self.hooked:
            G = trainer.family.nets["G"]
            run = getattr(G, self.method)
            setattr(G, self.method, lambda z, *rest: run(torch.zeros_like(z), *rest))
            self.hooked = True
