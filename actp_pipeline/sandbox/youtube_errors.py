"""The YouTube dialect's errors in Google's JSON shape, apart from the domain (sandbox/youtube.py) so that
quota, uploads and resource rendering can raise them without importing the domain.

Errors have Google's shape: {"error": {"code", "message", "errors": [{"message", "domain", "reason",
"location"?, "locationType"?}], "status"}}. Messages are the sandbox's own wording; reasons, domains and
status names are YouTube's.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError

# Google's canonical status names by HTTP status (the "status" member of an error)
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                405: "FAILED_PRECONDITION", 409: "ABORTED", 413: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}


class YouTubeError(ApiError):
    """An error with Google's JSON body (the routes send exc.body() with exc.status)."""

    def __init__(self, status: int, reason: str, message: str, *, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status, reason, message, field=location, headers=headers)
        self.reason = reason
        self.domain = domain
        self.location = location
        self.location_type = location_type

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        return {"error": {"code": self.status, "message": self.message, "errors": [item],
                          "status": STATUS_NAMES.get(self.status, "UNKNOWN")}}


def bad_param(reason: str, message: str, param: str, domain: str = "youtube.parameter") -> YouTubeError:
    return YouTubeError(400, reason, message, domain=domain, location=param, location_type="parameter")


def invalid_metadata(reason: str, message: str) -> YouTubeError:
    return YouTubeError(400, reason, message, domain="youtube.video")


def unauthorized(message: str) -> YouTubeError:
    return YouTubeError(401, "authError", message, location="Authorization", location_type="header",
                        headers={"WWW-Authenticate": 'Bearer realm="actp-sandbox", error="invalid_token"'})


def from_api_error(exc: ApiError) -> YouTubeError:
    """Any sandbox ApiError (route table, body limits, auth) in Google's shape."""
    if isinstance(exc, YouTubeError):
        return exc
    if exc.status == 401:
        return unauthorized("The request carries no valid OAuth 2 access token (Authorization: Bearer <token>).")
    reasons = {400: "badRequest", 403: "forbidden", 404: "notFound", 405: "methodNotAllowed",
               413: "uploadTooLarge", 415: "badContent", 422: "badContent", 429: "rateLimitExceeded",
               500: "backendError", 503: "backendError"}
    if exc.code == "invalid_json":
        return YouTubeError(400, "parseError", "The request body is not valid JSON.", headers=exc.headers)
    return YouTubeError(exc.status, reasons.get(exc.status, "backendError"), exc.message, headers=exc.headers)
