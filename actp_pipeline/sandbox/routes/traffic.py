"""The visitors' controls: run them up to the clock's now (/sandbox/traffic/run, no key: like the clock,
it is the sandbox's own; the posts' visitors and the ads' paid ones), their ground truth
(/sandbox/truth/funnel, X-Truth-Token: `items` organic per post, `paid` per linked ad set, `by_channel`), and
the shop page the demo's tracked links land on (/sandbox/shop: a landing page a person can open; the visitors
send what its snippet would without loading it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from ..traffic import CURRENCY, PRICE, Traffic
from ..transport import Auth, endpoint, json_response, route


SHOP_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox shop</title></head>
<body><h1>The sandbox shop</h1><p>One product, ${PRICE:g} {CURRENCY}. The demo's tracked links land here; the sandbox's
visitors report their page views and purchases to the hooks service the way the ACTP snippet would.</p>
</body></html>"""


def traffic_routes(traffic: Traffic, auth: Auth) -> list[BaseRoute]:
    def run(request: Request, body: bytes) -> Response:
        return json_response(200, traffic.run())

    def truth(request: Request, body: bytes) -> Response:
        return json_response(200, traffic.truth())

    async def shop(request: Request) -> Response:
        return HTMLResponse(SHOP_PAGE, headers={"Cache-Control": "no-store"})

    return [
        route("/sandbox/shop", {"GET": shop}),
        route("/sandbox/traffic/run", {"POST": endpoint(run)}),
        route("/sandbox/truth/funnel", {"GET": endpoint(truth, guard=auth.truth)}),
    ]
