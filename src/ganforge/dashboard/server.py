"""The dashboard's web app (Starlette): the pages and the JSON they poll.

Pages and assets are files of this package (static/), served from memory: no build step, no CDN.
A token, when set (always when bound off localhost), is needed on every request: `?token=` on the
first page sets a same-site cookie that the page's own requests then carry. Starting, stopping
and resuming runs (jobs.py) exists only with `allow_train`: without it the form and buttons are
not in the pages and those endpoints answer 403. They take JSON bodies only and refuse another
site's Origin, so a web page elsewhere cannot start a run through the user's browser.
"""
from __future__ import annotations

import contextlib
import secrets
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..io.errors import GanforgeError
from .jobs import Jobs
from .model import Models
from .runs import Refused, RunsRoot

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE = "ganforge_token"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
NO_TRAIN = "error: starting, stopping and resuming runs needs `ganforge dashboard --allow-train`"
TRAIN_SLOT = b"<!--train-->"  # where a page gets its training controls (static/train_*.html)


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _asset(name: str, controls: str | None = None) -> Response:
    data = _read(name)
    if TRAIN_SLOT in data:
        data = data.replace(TRAIN_SLOT, _read(controls) if controls else b"")
    return Response(data, media_type=TYPES[name[name.rindex("."):]], headers={"Cache-Control": "no-cache"})


class TokenGate(BaseHTTPMiddleware):
    def __init__(self, app, token: str):
        super().__init__(app)
        self.token = token

    async def dispatch(self, request, call_next):
        given = request.query_params.get("token") or request.headers.get("x-ganforge-token") \
            or request.cookies.get(COOKIE) or ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return PlainTextResponse("a token is needed: open the URL that `ganforge dashboard` printed", 403)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


def create_app(runs_dir, token: str | None = None, allow_train: bool = False,
               start_wait: float = 120.0) -> Starlette:
    root, models = RunsRoot(runs_dir), Models()
    jobs = Jobs(root, start_wait=start_wait) if allow_train else None

    def guarded(fn):
        async def endpoint(request):
            try:
                return await run_in_threadpool(fn, request, **request.path_params)
            except Refused:
                return PlainTextResponse("not found", 404)
            except GanforgeError as e:  # the CLI's one line, for the page to show
                return PlainTextResponse(f"error: {e}", 400)
        return endpoint

    def training(fn):
        """A POST that starts or stops a child: only with allow_train, JSON, from this origin."""
        async def endpoint(request):
            if jobs is None:
                return PlainTextResponse(NO_TRAIN, 403)
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
                return PlainTextResponse("error: a request from another site's page is refused", 403)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return PlainTextResponse("error: send the form as JSON (Content-Type: application/json)", 415)
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return PlainTextResponse("error: the body must be a JSON object", 400)
            return await guarded(lambda r, **kw: JSONResponse(fn(body, **kw)))(request)
        return endpoint

    def job(name: str) -> dict | None:
        return jobs.get(name) if jobs else None

    def runs(request):
        out = []
        for name in root.names():
            try:
                out.append(root.summary(name) | {"job": job(name)})
            except (Refused, OSError):  # removed while listing
                continue
        return JSONResponse({"root": str(root.root), "runs": out, "allow_train": jobs is not None,
                             "jobs": jobs.all() if jobs else []})

    def run(request, name):
        return JSONResponse(root.detail(name) | {"job": job(name), "allow_train": jobs is not None})

    def start(body):
        return jobs.start(**{k: str(body.get(k) or "") for k in ("data", "name", "model", "steps", "options")})

    def resume(body, name):
        return jobs.resume(name, steps=str(body.get("steps") or ""))

    def stop(body, name):
        return jobs.stop(name)

    def sample(request, name, file):
        return FileResponse(root.sample_file(name, file), media_type="image/png")

    def model(request, name):
        return JSONResponse(models.describe(root.run_dir(name)))

    def model_png(request, name):
        q = request.query_params
        try:
            n, seed = int(q.get("n", 64)), int(q.get("seed", 0))
            psi = float(q["truncation"]) if q.get("truncation") not in (None, "") else None
        except ValueError:
            raise GanforgeError("n and seed must be integers, truncation a number") from None
        png = models.png(root.run_dir(name), n=n, seed=seed, label=q.get("label"), truncation=psi)
        headers = {"Content-Disposition": f'attachment; filename="samples_seed{seed}.png"'} if q.get("download") else {}
        return Response(png, media_type="image/png", headers=headers)

    form, buttons = ("train_form.html", "train_buttons.html") if jobs else (None, None)
    routes = [
        Route("/", lambda r: _asset("index.html", form)),
        Route("/compare", lambda r: _asset("compare.html")),
        Route("/run/{name:path}", guarded(lambda r, name: root.run_dir(name) and _asset("run.html", buttons))),
        Route("/static/{file}", guarded(lambda r, file: _asset(file) if file in ("app.js", "style.css")
                                        else PlainTextResponse("not found", 404))),
        Route("/api/runs", runs),
        Route("/api/train", training(start), methods=["POST"]),
        Route("/api/run/{name:path}/stop", training(stop), methods=["POST"]),
        Route("/api/run/{name:path}/resume", training(resume), methods=["POST"]),
        Route("/api/run/{name:path}/samples/{file}", guarded(sample)),
        Route("/api/run/{name:path}/model.png", guarded(model_png)),
        Route("/api/run/{name:path}/model", guarded(model)),
        Route("/api/run/{name:path}", guarded(run)),
    ]
    middleware = [Middleware(TokenGate, token=token)] if token else []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if jobs:  # runs still training checkpoint and stop with the server
            await run_in_threadpool(jobs.close)

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.jobs = jobs
    return app


def needs_token(host: str) -> bool:
    return host not in LOCAL_HOSTS


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1"):
    """Serve `app` with uvicorn on a free port in a daemon thread; yields its base URL and stops
    the server on exit (screenshots and browser tests: a real server without a process)."""
    import socket
    import threading
    import time

    import uvicorn
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):  # up to 20 s for the server to come up
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
