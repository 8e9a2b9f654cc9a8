"""The web console: the built single-page app (services/ui/dist) at `/`. Its files are public;
every API call it makes carries the key the operator signs in with."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

#: Where `npm run build` (make ui) writes the console, relative to this file.
DEFAULT_UI_DIR = Path(__file__).resolve().parents[2] / "ui" / "dist"

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Voice Campaigns</title></head><body><h1>The web console is not built</h1>
<p>Run <code>make ui</code> (or <code>make run</code>, which builds it when missing), then
reload. The API itself is at <a href="/api/docs">/api/docs</a>.</p></body></html>"""


#: The console loads only its own files and talks only to this origin; inline styles are
#: React's `style` attribute (the progress bars' widths).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def console_routes(ui_dir: Path) -> list[web.AbstractRouteDef]:
    index = ui_dir / "index.html"

    async def page(_: web.Request) -> web.StreamResponse:
        if not index.is_file():
            return web.Response(text=NOT_BUILT, content_type="text/html", status=503)
        # The page names its hashed assets: never cache it, so a new build shows at once.
        return web.FileResponse(index, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    routes: list[web.AbstractRouteDef] = [web.get("/", page)]
    if (ui_dir / "assets").is_dir():
        routes.append(web.static("/assets", ui_dir / "assets"))
    return routes
