"""`ganforge dashboard --allow-train`: start a run from the form, stop it, resume it. Real
`python -m ganforge` children on ring8; the options are checked by the CLI itself."""
import json
import subprocess
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import HTMLResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from test_dashboard import CHROMIUM, RECORDS, _fake_run, _serving  # noqa: E402

from ganforge.api import Run  # noqa: E402
from ganforge.dashboard.server import create_app  # noqa: E402

TINY = "--threads 1 --hidden 32 --log-every 5 --sample-every 50 --ckpt-every 1000"


def _post(c, url, body, **kw):
    return c.post(url, json=body, **kw)


def _until(c, name, check, timeout=60):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        d = c.get(f"/api/run/{name}").json() if c.get(f"/api/run/{name}").status_code == 200 else None
        if d and check(d):
            return d
        time.sleep(0.2)
    raise AssertionError(f"{name}: timed out, last {d and {k: d[k] for k in ('step', 'job')}}")


def test_without_allow_train_there_is_no_form_and_the_endpoints_refuse(tmp_path):
    runs = tmp_path / "runs"
    _fake_run(runs / "a", RECORDS)
    c = TestClient(create_app(runs))
    assert 'id="train-form"' not in c.get("/").text and 'id="stop"' not in c.get("/run/a").text
    assert c.get("/api/runs").json()["allow_train"] is False
    for url in ["/api/train", "/api/run/a/stop", "/api/run/a/resume"]:
        r = _post(c, url, {"data": "ring8", "name": "x"})
        assert r.status_code == 403 and r.text == "error: starting, stopping and resuming runs needs " \
                                                  "`ganforge dashboard --allow-train`", url
    assert sorted(p.name for p in runs.iterdir()) == ["a"]
    # with it: the form and the buttons are in the pages
    c = TestClient(create_app(runs, allow_train=True))
    assert 'id="train-form"' in c.get("/").text and 'id="stop"' in c.get("/run/a").text
    assert c.get("/api/runs").json()["allow_train"] is True


def test_the_form_gets_the_clis_own_one_line_errors(tmp_path, cli):
    runs = tmp_path / "runs"
    runs.mkdir()
    c = TestClient(create_app(runs, allow_train=True))
    # the child's own checks: an unknown option, and one the chosen family does not take
    for options in ["--foo 3", "--window 3 --threads 1"]:
        r = _post(c, "/api/train", {"data": "ring8", "name": "bad", "options": options})
        code, _, err = cli("train", "ring8", *options.split(), "--out", runs / "bad", "--quiet")
        assert code == 2 and r.status_code == 400, r.text
        assert r.text == err.strip() and len(r.text.splitlines()) == 1, (r.text, err)
        assert ("No such option '--foo'" if "foo" in options else "not an option of --model vanilla") in r.text
    # the form's own: names outside RUNS_DIR, options the form sets itself, no data, bad quoting
    for body, says in [({"data": "ring8", "name": "../x"}, "must be a folder name inside the runs folder"),
                       ({"data": "ring8", "name": str(tmp_path / "x")}, "must be a folder name"),
                       ({"data": "ring8", "name": "x", "options": f"--out {tmp_path}/x"}, "--out is not taken by the form"),
                       ({"data": "ring8", "name": "x", "options": "--config=/etc/passwd"}, "--config is not taken"),
                       ({"data": "", "name": "x"}, "data is missing"),
                       ({"data": "ring8", "name": "x", "options": "--lr '2e-4"}, "options: No closing quotation")]:
        r = _post(c, "/api/train", body)
        assert r.status_code == 400 and r.text.startswith("error:") and says in r.text, (body, r.text)
    (tmp_path / "outside").mkdir()
    (runs / "link").symlink_to(tmp_path / "outside")
    r = _post(c, "/api/train", {"data": "ring8", "name": "link/x"})
    assert r.status_code == 400 and "leads outside the runs folder" in r.text
    # only JSON from this page: a plain form post or another site's page is refused
    assert c.post("/api/train", data={"data": "ring8", "name": "x"}).status_code == 415
    assert _post(c, "/api/train", {"data": "ring8", "name": "x"}, headers={"origin": "http://evil.example"}).status_code == 403
    assert c.post("/api/train", content=b"[1]", headers={"content-type": "application/json"}).status_code == 400
    assert sorted(p.name for p in runs.iterdir()) == ["link"] and not list((tmp_path / "outside").iterdir())
    r = _post(c, "/api/run/nope/stop", {})
    assert r.status_code == 404
    assert c.get("/api/runs").json()["jobs"] == []  # refused starts leave no job behind


def test_a_run_is_started_stopped_and_resumed_from_the_page(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    app = create_app(runs, allow_train=True)
    c = TestClient(app)
    try:
        r = _post(c, "/api/train", {"data": "ring8", "name": "grp/r1", "steps": "100000", "options": TINY})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "training" and (runs / "grp" / "r1" / "config.json").exists()
        listed = c.get("/api/runs").json()["runs"]
        assert [(x["name"], x["family"], x["job"]["state"]) for x in listed] == [("grp/r1", "vanilla", "training")]
        again = _post(c, "/api/run/grp/r1/resume", {})
        assert again.status_code == 400 and "already training" in again.text
        _until(c, "grp/r1", lambda d: d["step"] >= 5)
        stopped = _post(c, "/api/run/grp/r1/stop", {})
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped", stopped.text
        step = Run(runs / "grp" / "r1").step  # the checkpoint of the step it stopped at
        assert 5 <= step < 100000
        assert c.get("/api/run/grp/r1").json()["job"]["state"] == "stopped"
        r = _post(c, "/api/run/grp/r1/stop", {})
        assert r.status_code == 400 and "not training from this dashboard" in r.text
        r = _post(c, "/api/run/grp/r1/resume", {"steps": "x"})
        assert r.status_code == 400 and r.text.startswith("error:") and "'x' is not a valid integer" in r.text
        r = _post(c, "/api/run/grp/r1/resume", {"steps": step + 20})
        assert r.status_code == 200 and r.json()["state"] in ("training", "finished"), r.text
        d = _until(c, "grp/r1", lambda d: d["job"]["state"] == "finished")
        assert Run(runs / "grp" / "r1").step == step + 20 and d["step"] == step + 20
        resumed = [json.loads(x) for x in (runs / "grp" / "r1" / "log.jsonl").read_text().splitlines()]
        assert min(x["step"] for x in resumed if "d_loss" in x) <= step  # one log, continued
    finally:
        app.state.jobs.close(wait=30)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed")
def test_a_run_started_from_the_form_shows_in_the_list_in_chromium(tmp_path):
    """The form in a real browser: a harness page (same origin) fills and submits the dashboard's
    form in a frame, waits for the new row and copies the table out for --dump-dom."""
    runs = tmp_path / "runs"
    runs.mkdir()
    dash = create_app(runs, allow_train=True)
    harness = """<!doctype html><body><iframe id="f" src="/" width="1200" height="800"></iframe><pre id="out"></pre>
<script>
const f = document.getElementById("f");
f.onload = () => {
  const d = f.contentDocument, form = d.getElementById("train-form");
  form.elements.name.value = "fromform"; form.elements.steps.value = "40";
  form.elements.options.value = "%s";
  form.requestSubmit();
  const look = () => {
    const rows = d.querySelector("#runs tbody").innerHTML, msg = d.getElementById("train-msg").textContent;
    if (rows.includes("fromform") && msg.includes("started")) document.getElementById("out").textContent = msg + "\\n" + rows;
    else setTimeout(look, 200);
  };
  look();
};
</script></body>""" % TINY
    app = Starlette(routes=[Route("/harness", lambda r: HTMLResponse(harness)), Mount("/", app=dash)])
    try:
        with _serving(app) as url:
            cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=60000",
                   "--dump-dom", url + "/harness"]
            page = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
        assert "started fromform" in page and 'href="/run/fromform"' in page and "vanilla" in page, page[-2000:]
        assert (runs / "fromform" / "config.json").exists()
    finally:
        dash.state.jobs.close(wait=30)
