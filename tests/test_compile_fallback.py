"""--compile: a compiler failure at the first compiled call (Inductor, a C++ build error) falls
back to eager training with one warning, and the run is the same as one trained eagerly."""
from __future__ import annotations

import warnings

import torch

import ganforge
from ganforge.artifacts.saved import GENERATOR_WEIGHTS

OPTS = dict(steps=6, hidden=16, depth=1, log_every=3, ckpt_every=6, sample_every=6, progress=False,
            threads=1)


def _weights(run):
    from safetensors.torch import load_file
    return load_file(str(run.path / GENERATOR_WEIGHTS))


def test_a_compiler_failure_at_the_first_step_trains_eagerly(tmp_path, monkeypatch):
    def broken_backend(gm, example_inputs):
        raise RuntimeError("simulated Inductor failure")

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, *a, **kw: real_compile(fn, *a, **{**kw, "backend": broken_backend}))
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/" + name)  # a compiler "is there"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = ganforge.train("ring8", out=tmp_path / "c", compile=True, **OPTS)
    said = [str(w.message) for w in caught if "--compile" in str(w.message)]
    assert compiled.step == 6
    # one warning for G (ring8's D stays eager: R1 needs double backward)
    assert len(said) == 1 and "compiling G failed" in said[0] and "simulated Inductor failure" in said[0], said
    eager = ganforge.train("ring8", out=tmp_path / "e", compile=False, **OPTS)
    a, b = _weights(compiled), _weights(eager)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
