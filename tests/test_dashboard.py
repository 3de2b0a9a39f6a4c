"""`ganforge dashboard`: pages, JSON endpoints, path-escape refusal, token off localhost, speed.
Starlette's TestClient, no network."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import ganforge
from conftest import FAST

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from ganforge.dashboard.server import create_app, needs_token, serve_in_thread  # noqa: E402

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _fake_run(path, records=(), samples=(), metrics=None):
    (path / "samples").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"family": "gan", "config": {"data": "ring8", "steps": 100},
                                                  "data": {"name": "ring8", "shape": [2]}}))
    (path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 9')  # a cut line
    for s in samples:
        (path / "samples" / f"step_{s:07d}.png").write_bytes(PNG)
    if metrics:
        (path / "metrics.json").write_text(json.dumps(metrics))
    return path


RECORDS = [{"step": 10, "d_loss": 1.3, "g_loss": 0.7, "D_real": 0.5, "D_fake": 0.45, "gnorm_D": 0.4, "health": "healthy"},
           {"step": 20, "d_loss": 0.2, "g_loss": 3.1, "D_real": 0.95, "D_fake": 0.03, "gnorm_D": 0.1, "health": "warning",
            "eval_fid": 2.5, "eval_fid_floor": 0.1},
           {"step": 20, "finding": "d_overpowering", "severity": "warning", "onset": 15,
            "evidence": {"D_acc": "0.99"}, "advice": "lower --lr-d"}]


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    _fake_run(root / "a", RECORDS, samples=(10, 20),
              metrics={"metrics": [{"metric": "fid", "label": "FID", "value": 3.0, "floor": 0.2, "better": "lower"}]})
    (tmp_path / "secret.txt").write_text("secret")
    return root


def test_runs_page_and_json(runs):
    c = TestClient(create_app(runs))
    page = c.get("/")
    assert page.status_code == 200 and "ganforge" in page.text and "/static/app.js" in page.text
    assert c.get("/compare?runs=a").status_code == 200
    assert c.get("/static/app.js").status_code == 200 and c.get("/static/style.css").status_code == 200
    doc = c.get("/api/runs").json()
    assert [r["name"] for r in doc["runs"]] == ["a"]
    assert c.get("/api/run/a/model").json()["available"] is False  # no generator yet: no sliders
    r = doc["runs"][0]
    assert (r["family"], r["data"], r["step"], r["steps"], r["status"]) == ("gan", "ring8", 20, 100, "warning")
    assert r["best"] == {"metric": "fid", "value": 2.5, "step": 20} and r["updated"] > 0


def test_run_page_and_json(runs):
    c = TestClient(create_app(runs))
    assert c.get("/run/a").status_code == 200 and 'id="slider"' in c.get("/run/a").text
    d = c.get("/api/run/a").json()
    assert d["curves"]["d_loss"] == [[10, 1.3], [20, 0.2]] and d["curves"]["D_fake"][-1] == [20, 0.03]
    assert d["findings"] == [{"step": 20, "onset": 15, "finding": "d_overpowering", "severity": "warning",
                              "evidence": {"D_acc": "0.99"}, "advice": "lower --lr-d"}]
    assert [s["step"] for s in d["samples"]] == [10, 20]
    assert d["metrics"][0]["value"] == 3.0 and d["metrics"][0]["floor"] == 0.2
    assert d["evals"] == [{"fid": 2.5, "fid_floor": 0.1, "step": 20}]
    png = c.get("/api/run/a/samples/step_0000020.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content == PNG


def test_a_new_record_and_grid_show_on_the_next_poll(runs):
    c = TestClient(create_app(runs))
    assert c.get("/api/run/a").json()["step"] == 20
    with open(runs / "a" / "log.jsonl", "a") as f:
        f.write('\n{"step": 30, "d_loss": 1.0, "health": "healthy"}\n')
    (runs / "a" / "samples" / "step_0000030.png").write_bytes(PNG)
    d = c.get("/api/run/a").json()
    assert d["step"] == 30 and d["status"] == "healthy" and d["samples"][-1]["step"] == 30


def test_no_path_outside_runs_dir_can_be_read(runs, tmp_path):
    outside = _fake_run(tmp_path / "elsewhere" / "run", RECORDS, samples=(10,))
    os.symlink(outside, runs / "link")  # a run folder that is a symlink out of RUNS_DIR
    os.symlink(tmp_path / "secret.txt", runs / "a" / "samples" / "step_0000099.png")
    c = TestClient(create_app(runs))
    assert [r["name"] for r in c.get("/api/runs").json()["runs"]] == ["a"]
    for url in ["/api/run/..", "/api/run/%2E%2E", "/api/run/a/..", "/api/run/..%2Fsecret.txt",
                "/api/run/a%2F..%2F..%2Felsewhere%2Frun", f"/api/run/{tmp_path}/elsewhere/run",
                f"/api/run/%2F{str(tmp_path / 'elsewhere' / 'run').lstrip('/')}", "/api/run/link",
                "/api/run/link/samples/step_0000010.png", "/run/link", "/run/..%2Fsecret.txt",
                "/api/run/a/samples/step_0000099.png", "/api/run/a/samples/..%2F..%2F..%2Fsecret.txt",
                "/api/run/a/samples/..%2Fconfig.json", "/api/run/a/samples/config.json",
                "/static/..%2F..%2Fserver.py", "/static/index.html%00", "/api/run/nope"]:
        r = c.get(url)
        assert r.status_code in (403, 404), url
        assert "secret" not in r.text and "family" not in r.text, url


def test_a_token_is_needed_off_localhost(runs, cli, monkeypatch):
    assert needs_token("0.0.0.0") and needs_token("192.168.1.5") and not needs_token("127.0.0.1")
    c = TestClient(create_app(runs, token="s3cret"))
    assert c.get("/api/runs").status_code == 403 and c.get("/?token=wrong").status_code == 403
    assert c.get("/api/runs", headers={"x-ganforge-token": "s3cret"}).status_code == 200
    assert c.get("/?token=s3cret").status_code == 200  # sets the cookie the page's requests carry
    assert c.get("/api/run/a").status_code == 200
    # the CLI: a random token off localhost, printed in the URL; none on 127.0.0.1
    import uvicorn
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: seen.update(app=app, host=host, port=port))
    code, out, err = cli("dashboard", runs, "--host", "0.0.0.0", "--port", 9999)
    assert code == 0, err
    token = out.split("?token=")[1].split()[0]
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 9999) and len(token) >= 24
    gated = TestClient(seen["app"])
    assert gated.get("/api/runs").status_code == 403 and gated.get(f"/api/runs?token={token}").status_code == 200
    code, out, _ = cli("dashboard", runs)
    assert code == 0 and seen["host"] == "127.0.0.1" and "?token=" not in out
    assert TestClient(seen["app"]).get("/api/runs").status_code == 200


def test_dashboard_cli_errors(cli, tmp_path, monkeypatch):
    code, _, err = cli("dashboard", tmp_path / "nope")
    assert code == 2 and err.startswith("error:") and "does not exist" in err
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # not installed
    code, _, err = cli("dashboard", tmp_path)
    assert code == 2 and "pip install 'ganforge[dashboard]'" in err and len(err.strip().splitlines()) == 1


def test_a_real_run_is_shown_and_sampled(tmp_path):
    ganforge.train("digits", model="cgan", out=tmp_path / "runs" / "dig", steps=20, channels=16, **FAST)
    c = TestClient(create_app(tmp_path / "runs"))
    d = c.get("/api/run/dig").json()
    assert d["family"] == "cgan" and d["step"] == 20 and d["status"] in ("healthy", "warning", "problem")
    assert {"d_loss", "g_loss", "D_real", "D_fake", "gnorm_D"} <= set(d["curves"]) and len(d["samples"]) == 2
    m = c.get("/api/run/dig/model").json()
    assert m["available"] and m["num_classes"] == 10 and not m["truncation"]
    a, b = (c.get("/api/run/dig/model.png", params={"seed": s, "label": "3", "n": 16}) for s in (1, 2))
    assert a.status_code == 200 and a.content[:4] == b"\x89PNG" and a.content != b.content  # seeds differ
    assert a.content == c.get("/api/run/dig/model.png?seed=1&label=3&n=16").content  # and repeat
    dl = c.get("/api/run/dig/model.png?seed=1&download=1")
    assert "attachment" in dl.headers["content-disposition"]
    for q, says in [("label=99", "out of range"), ("n=0", "n must be"), ("seed=x", "integers"),
                    ("truncation=0.5", "stylegan")]:
        r = c.get(f"/api/run/dig/model.png?{q}")
        assert r.status_code == 400 and r.text.startswith("error:") and says in r.text, q
    assert c.get("/api/run/../model.png").status_code == 404
    if CHROMIUM:  # the sliders' script draws the grid in a real browser
        with _serving(create_app(tmp_path / "runs")) as url:
            page = _dom(url + "/run/dig")
        assert '<section id="model">' in page and 'id="m-grid" alt="samples of the trained model" src="blob:' in page
        assert '<option value="3">3</option>' in page


def test_a_big_run_opens_fast(tmp_path):
    rec = [{"step": i, "d_loss": 1.0 + (i % 7) / 10, "g_loss": 0.7, "D_real": 0.6, "D_fake": 0.4, "gnorm_D": 0.3,
            "gnorm_G": 0.2, "div": 0.9, "health": "healthy"} for i in range(1, 10_001)]
    _fake_run(tmp_path / "runs" / "big", rec, samples=range(0, 10_000, 20))  # 500 grids
    c = TestClient(create_app(tmp_path / "runs"))
    t0 = time.perf_counter()
    d = c.get("/api/run/big").json()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    c.get("/api/run/big"), c.get("/run/big")
    again = time.perf_counter() - t0
    print(f"10,000 records + 500 grids: first open {first:.3f} s, next poll + page {again:.3f} s")
    assert len(d["samples"]) == 500 and len(d["curves"]["d_loss"]) <= 601 and d["step"] == 10_000
    assert first < 1.0 and again < 0.5


CHROMIUM = next((shutil.which(b) for b in ("chromium-headless-shell", "chromium", "chromium-browser")
                 if shutil.which(b)), None)


_serving = serve_in_thread  # test_dashboard_train imports it under this name


def _dom(url):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=4000", "--dump-dom", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed (optional: apt-get install chromium-headless-shell)")
def test_the_pages_render_in_headless_chromium(runs):
    """The scripts run in a real browser: rows, curves, findings, slider and grid drawn from the
    JSON; a new record and grid show up; the token's cookie carries the page's own requests."""
    with _serving(create_app(runs)) as url:
        index = _dom(url + "/")
        assert 'href="/run/a"' in index and ">warning<" in index and "fid 2.5" in index
        page = _dom(url + "/run/a")
        assert page.count('<svg class="curve"') == 3 and "<polyline" in page and "<rect" in page  # finding shaded
        assert "d_overpowering" in page and "advice: lower --lr-d" in page
        assert 'max="1"' in page and "/api/run/a/samples/step_0000020.png" in page and "step 20 (2/2)" in page
        assert "<td>FID</td>" in page and ">0.2<" in page
        with open(runs / "a" / "log.jsonl", "a") as f:
            f.write('\n{"step": 30, "d_loss": 1.0, "health": "healthy"}\n')
        (runs / "a" / "samples" / "step_0000030.png").write_bytes(PNG)
        page = _dom(url + "/run/a")
        assert "step 30/100" in page and 'max="2"' in page and "step_0000030.png" in page
        _fake_run(runs / "b", [{"step": 15, "d_loss": 0.9, "D_real": 0.7, "D_fake": 0.2}], samples=(5, 15))
        page = _dom(url + "/compare?runs=a&runs=b")  # at the last step: a's grid 30, b's grid 15
        assert "/api/run/a/samples/step_0000030.png" in page and "/api/run/b/samples/step_0000015.png" in page
        assert page.count('<svg class="curve"') == 4 and ">0.9<" in page and "<td>" in page
    with _serving(create_app(runs, token="s3cret")) as url:
        assert 'href="/run/a"' not in _dom(url + "/")
        assert 'href="/run/a"' in _dom(url + "/?token=s3cret")
