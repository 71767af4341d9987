"""/sandbox/health and the simulated clock: read it, advance it (no key needed: the clock is the sandbox's own)."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..clock import SimClock, iso
from ..errors import bad_request
from ..transport import JSON_BODY_LIMIT, endpoint, json_response, route
from ..validation import missing, parse_json_object, type_error

MAX_ADVANCE_HOURS = 24 * 3650


def clock_routes(clock: SimClock) -> list[BaseRoute]:
    def health(request: Request, body: bytes) -> Response:
        return json_response(200, {"ok": True, "now": iso(clock.now())})

    def get_clock(request: Request, body: bytes) -> Response:
        return json_response(200, {"now": iso(clock.now()), "speed": clock.speed})

    def advance(request: Request, body: bytes) -> Response:
        fields = parse_json_object(body)
        if "hours" not in fields:
            raise missing("hours")
        hours = fields["hours"]
        if isinstance(hours, bool) or not isinstance(hours, (int, float)):
            raise type_error("hours", "a number", hours)
        if not math.isfinite(hours) or hours < 0 or hours > MAX_ADVANCE_HOURS:
            raise bad_request(f"hours must be between 0 and {MAX_ADVANCE_HOURS}", field="hours", code="invalid_field")
        try:
            return json_response(200, {"now": iso(clock.advance(float(hours)))})
        except ValueError as exc:  # past the clock's range (clock.LATEST)
            raise bad_request(str(exc), field="hours", code="invalid_field") from None

    return [
        route("/sandbox/health", {"GET": endpoint(health)}),
        route("/sandbox/clock", {"GET": endpoint(get_clock)}),
        route("/sandbox/clock/advance", {"POST": endpoint(advance, body_limit=JSON_BODY_LIMIT)}),
    ]
