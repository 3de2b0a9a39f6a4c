"""The dashboard's web app (Starlette): two pages and the JSON they poll.

Pages and assets are files of this package (static/), served from memory: no build step, no CDN.
A token, when set (always when bound off localhost), is needed on every request: `?token=` on the
first page sets a same-site cookie that the page's own requests then carry.
"""
from __future__ import annotations

import secrets
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..io.errors import GanforgeError
from .model import Models
from .runs import Refused, RunsRoot

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE = "ganforge_token"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


def _asset(name: str) -> Response:
    data = resources.files(__package__).joinpath("static", name).read_bytes()
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


def create_app(runs_dir, token: str | None = None) -> Starlette:
    root, models = RunsRoot(runs_dir), Models()

    def guarded(fn):
        async def endpoint(request):
            try:
                return await run_in_threadpool(fn, request, **request.path_params)
            except Refused:
                return PlainTextResponse("not found", 404)
            except GanforgeError as e:  # the CLI's one line, for the page to show
                return PlainTextResponse(f"error: {e}", 400)
        return endpoint

    def runs(request):
        out = []
        for name in root.names():
            try:
                out.append(root.summary(name))
            except (Refused, OSError):  # removed while listing
                continue
        return JSONResponse({"root": str(root.root), "runs": out})

    def run(request, name):
        return JSONResponse(root.detail(name))

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

    routes = [
        Route("/", lambda r: _asset("index.html")),
        Route("/compare", lambda r: _asset("compare.html")),
        Route("/run/{name:path}", guarded(lambda r, name: root.run_dir(name) and _asset("run.html"))),
        Route("/static/{file}", guarded(lambda r, file: _asset(file) if file in ("app.js", "style.css")
                                        else PlainTextResponse("not found", 404))),
        Route("/api/runs", runs),
        Route("/api/run/{name:path}/samples/{file}", guarded(sample)),
        Route("/api/run/{name:path}/model.png", guarded(model_png)),
        Route("/api/run/{name:path}/model", guarded(model)),
        Route("/api/run/{name:path}", guarded(run)),
    ]
    middleware = [Middleware(TokenGate, token=token)] if token else []
    return Starlette(routes=routes, middleware=middleware)


def needs_token(host: str) -> bool:
    return host not in LOCAL_HOSTS
