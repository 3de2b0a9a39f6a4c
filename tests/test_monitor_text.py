"""The health monitor watches text-to-image generators too: diversity within one caption and
recall of held-aside images by images of their own captions (monitor/probes.py), a
mode_collapse finding that names the caption, and `--on-problem fix` raising the mode-seeking
term (families/text2img.py)."""
import torch

import ganforge
from conftest import IgnoreNoise
from ganforge.monitor.detectors import detect
from ganforge.monitor.probes import Probes

SMALL = dict(model="text2img", steps=150, log_every=10, sample_every=10**6, ckpt_every=50, progress=False,
             seed=0, threads=1)


def test_a_text_generator_that_ignores_its_noise_gets_a_finding_naming_the_caption(tmp_path):
    # Measured (digits-captions, 150 steps, no diversity term): within-caption diversity 0.0 from
    # step 20 while the batch of random captions climbed to 0.8; a run without the term 0.21-0.26.
    bad = ganforge.train("digits-captions", out=tmp_path / "bad", callbacks=[IgnoreNoise("render")], **SMALL)
    found = [r for r in bad.log if r.get("finding") == "mode_collapse"]
    assert found and found[0]["severity"] == "problem", [r for r in bad.log if "finding" in r]
    ev = found[0]["evidence"]
    assert float(ev["within_caption_diversity"]) < 0.01 and isinstance(ev["caption"], str) and ev["caption"]
    assert "diversity_weight" in found[0]["advice"]
    good = ganforge.train("digits-captions", out=tmp_path / "good", **SMALL)
    within = [r["div_class_min"] for r in good.log if "div_class_min" in r]
    assert min(within[3:]) > 0.1  # G's images of one caption vary
    assert not [r for r in good.log if r.get("finding") == "mode_collapse"
                and float(r["evidence"].get("within_caption_diversity", 1)) < 0.05]
    assert any("probe_recall" in r for r in good.log) and "probe_label_acc" not in str(good.log)
    from ganforge.monitor.doctor import diagnose
    assert "within-caption diversity" in diagnose(good.path)["watched"]
    assert any(f["finding"] == "mode_collapse" and "caption" in f["evidence"] for f in diagnose(bad.path)["findings"])


def test_fix_raises_the_mode_seeking_term_of_a_collapsed_text_generator(tmp_path):
    run = ganforge.train("digits-captions", out=tmp_path / "fix", callbacks=[IgnoreNoise("render")], on_problem="fix",
                         diversity_weight=0.0, **SMALL)
    fixes = [r for r in run.log if r.get("action") == "fix"]
    assert fixes and fixes[0]["change"] == "diversity_weight 0 -> 0.01", fixes
    if len(fixes) > 1:
        assert fixes[1]["change"] == "diversity_weight 0.01 -> 0.02"


def _records(within, caption="a thick three"):
    return [{"step": 10 * (i + 1), "div": 0.8, "div_class_min": d, "div_class_worst": 5, "div_worst_caption": caption}
            for i, d in enumerate(within)]


def test_caption_collapse_is_told_with_the_caption_and_the_text_advice():
    f = [x for x in detect(_records([0.3, 0.01, 0.0, 0.0, 0.0, 0.0])) if x.finding == "mode_collapse"]
    assert f and f[0].severity == "problem" and f[0].evidence["caption"] == "a thick three"
    assert "diversity_weight" in f[0].advice and "--lr-g" not in f[0].advice
    assert not [x for x in detect(_records([0.3, 0.25, 0.3, 0.28, 0.3, 0.27])) if x.finding == "mode_collapse"]


def test_the_recall_probe_asks_for_each_held_aside_image_with_one_of_its_own_captions():
    from ganforge.families import family_class
    data = family_class("text2img").load_data("digits-captions", {})
    p = Probes.create(data, {"input": "text", "z_dim": 8}, "cpu")
    assert p is not None and p.nc == 0 and p.reader is None and len(p.classes) == 16
    own = {}
    for img, cap in zip(data.pair_image.tolist(), data.pair_caption.tolist()):
        own.setdefault(img, set()).add(cap)
    for i, img in enumerate(p.ref_index.tolist()):
        hits = [c for c in own[img] if torch.equal(data.emb[c], p.rec_cond[i])]
        assert hits, f"image {img} was asked with a caption that is not its own"
    assert p.captions is data.captions and all(p.real_spread[c] > 0 for c in p.classes)
