"""`ganforge report`: the HTML parses, every embedded image is a real PNG, the quality sections
are there (scorecard with floor, per-class grid, interpolation, metric curves, nearest pairs),
and, when a headless Chromium is installed, the page renders to a non-blank screenshot."""
import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.report.html import write_report

VOID = {"meta", "img", "br", "hr", "link", "input"}


class Page(HTMLParser):
    """Collects images and ids, and checks that every non-void tag is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.ids, self.errors = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.images.append(a)
        elif tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def parse(path):
    p = Page()
    p.feed(path.read_text())
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained run that was never evaluated; each test works on its own copy of it."""
    out = tmp_path_factory.mktemp("report") / "digits_cgan"
    ganforge.train("digits", model="cgan", out=out, progress=False, steps=30, batch_size=32,
                   channels=8, z_dim=16, log_every=5, sample_every=10, ckpt_every=15,
                   eval_every=15, eval_n=100)
    return out


@pytest.fixture
def run(trained, tmp_path):
    return Path(shutil.copytree(trained, tmp_path / "run"))


@pytest.fixture(scope="module")
def reported(trained, tmp_path_factory):
    """A copy of the run after `ganforge report -n 150` (which evaluates it: no metrics.json yet)."""
    out = Path(shutil.copytree(trained, tmp_path_factory.mktemp("reported") / "run"))
    assert not (out / "metrics.json").exists()
    with pytest.raises(SystemExit) as e:
        main(["report", str(out), "-n", "150"])
    assert e.value.code == 0
    return out


def test_report_without_evaluation_says_how_to_get_metrics(run, cli):
    code, out, _ = cli("report", run, "--no-eval")
    assert code == 0 and "report.html" in out
    page = parse(run / "report.html")
    assert "Not evaluated yet" in (run / "report.html").read_text()
    assert {"scorecard", "samples", "interpolation", "timeline", "curves", "config"} <= page.ids


def test_report_evaluates_and_embeds_every_section(reported):
    run = reported
    assert (run / "metrics.json").exists()                 # evaluated because it was missing
    html = (run / "report.html").read_text()
    page = parse(run / "report.html")
    assert {"scorecard", "metrics", "memorisation"} <= page.ids
    alts = {im["alt"] for im in page.images}
    assert {"latest samples", "samples per class", "latent interpolation", "losses", "D outputs",
            "metric curves", "nearest pairs"} <= alts
    for im in page.images:                                 # self-contained: data URIs of real PNGs
        assert im["src"].startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(im["src"].split(",", 1)[1]))).verify()
    assert "real vs real" in html and "not comparable to published" in html and "digits-cnn" in html
    for png in ("losses.png", "metric_curves.png", "per_class.png", "interpolation.png"):
        assert (run / png).exists()                        # PNG plots beside the report


def test_report_flags_stale_metrics(reported, tmp_path, cli):
    import json
    run = Path(shutil.copytree(reported, tmp_path / "run"))
    doc = json.loads((run / "metrics.json").read_text())
    doc["step"] = 5
    (run / "metrics.json").write_text(json.dumps(doc))
    code, _, _ = cli("report", run, "--no-eval")
    assert code == 0 and "from step 5" in (run / "report.html").read_text()


def test_report_of_points_run_has_no_image_sections(tmp_path, cli):
    out = tmp_path / "ring"
    ganforge.train("ring8", out=out, progress=False, steps=20, log_every=10, sample_every=20, ckpt_every=20)
    code, _, err = cli("report", out, "-n", "200")
    assert code == 0, err
    page = parse(out / "report.html")
    assert "modes captured" in (out / "report.html").read_text()
    assert "latent interpolation" not in {im["alt"] for im in page.images}


CHROMIUM = next((shutil.which(b) for b in ("chromium-headless-shell", "chromium", "chromium-browser")
                 if shutil.which(b)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed (optional: apt-get install chromium-headless-shell)")
def test_report_renders_in_headless_chromium(run, tmp_path):
    write_report(run, evaluate=False)
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--screenshot={shot}", "--window-size=1100,2400", (run / "report.html").as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=60)
    im = Image.open(shot).convert("L")
    assert im.size == (1100, 2400)
    hist = im.histogram()
    assert max(hist) < 0.97 * sum(hist)                    # not a blank page: text and images drew
    dark = sum(hist[:100])
    assert dark > 0.01 * sum(hist)                         # the sample grids (dark backgrounds) drew
