"""The request parameters and errors of the sandbox's TikTok Marketing API (sandbox/tiktok_ads.py): how a
body or query value is read (text, enum, number, money, JSON list/object, time), TikTok's error codes and
envelope errors, paging, and the checks of an ad's destination (landing_page_url, call_to_action). Apart from
the objects so that tiktok_ads.py stays one readable module, as graph_params.py is for the Graph dialect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError
from .validation import decode_json

NO_PERMISSION, INVALID, RATE_LIMIT, TOKEN_EMPTY, TOKEN_INVALID, SYSTEM = 40001, 40002, 40100, 40104, 40105, 50000
TIME_FMT = "%Y-%m-%d %H:%M:%S"
MAX_NAME, MAX_PAGE_SIZE, MAX_URL = 512, 1000, 2000
# ad/create's call_to_action values that lead to a web page (TikTok's CTA enum, as its Marketing API lists it)
CALL_TO_ACTIONS = ("LEARN_MORE", "SHOP_NOW", "SIGN_UP", "CONTACT_US", "APPLY_NOW", "BOOK_NOW", "ORDER_NOW",
                   "GET_QUOTE", "SUBSCRIBE", "DOWNLOAD", "WATCH_NOW", "READ_MORE", "VIEW_NOW", "INTERESTED",
                   "VISIT_STORE", "PRE_ORDER_NOW", "GET_TICKETS_NOW", "EXPERIENCE_NOW", "LISTEN_NOW")


class TikTokAdsError(ApiError):
    """An error in the Marketing API's vocabulary: `tt_code` is TikTok's numeric code (HTTP 200 by default)."""

    def __init__(self, code: int, message: str, status: int = 200):
        super().__init__(status, str(code), message)
        self.tt_code = code


def invalid(message: str) -> TikTokAdsError:
    return TikTokAdsError(INVALID, message)


def tiktok_ads_code(exc: ApiError) -> int:
    if isinstance(exc, TikTokAdsError):
        return exc.tt_code
    return {401: TOKEN_INVALID, 429: RATE_LIMIT}.get(exc.status, SYSTEM if exc.status >= 500 else INVALID)


def _t(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).strftime(TIME_FMT)


def _parse_time(value: Any, name: str) -> float:
    try:
        return datetime.strptime(str(value), TIME_FMT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise invalid(f"{name} must be 'YYYY-MM-DD HH:MM:SS' (UTC), got {value!r}") from None


def json_param(params: Mapping[str, Any], name: str, kind: type) -> Any:
    """A parameter that is a JSON list/object (a JSON string in a query, the value itself in a body)."""
    raw = params.get(name)
    try:
        raw = decode_json(raw) if isinstance(raw, str) and raw else raw  # ValueError on any hostile JSON
    except ValueError:
        raise invalid(f"{name} must be JSON ({kind.__name__})") from None
    if raw not in (None, "") and not isinstance(raw, kind):
        raise invalid(f"{name} must be a JSON {kind.__name__}")
    return None if raw in (None, "") else raw


def _text(params: Mapping[str, Any], name: str, required: bool = False, max_len: int = MAX_NAME) -> str | None:
    value = params.get(name)
    if value in (None, "") and required:
        raise invalid(f"{name} is required")
    if value not in (None, "") and (not isinstance(value, str) or len(value) > max_len):
        raise invalid(f"{name} must be a string of at most {max_len} characters")
    return value or None


def _enum(params: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    value = params.get(name, default)
    if value is not None and value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _number(params: Mapping[str, Any], name: str, default: Any = None, lo: float = 0, hi: float = math.inf) -> float:
    raw = params.get(name, default)
    try:
        x = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    if not (math.isfinite(x) and lo <= x <= hi):
        raise invalid(f"{name} is required and must be a number from {lo:g} to {hi:g}, got {raw!r}")
    return x


def _money(params: Mapping[str, Any], name: str, minimum: float) -> int:
    """A daily budget (account currency) as minor units, at least `minimum` (the minimum daily budget)."""
    return round(_number(params, name, lo=minimum) * 100)


def paged(items: list[Any], params: Mapping[str, Any], key: str = "list") -> dict[str, Any]:
    page, size = int(_number(params, "page", 1, 1, 10**6)), int(_number(params, "page_size", 10, 1, MAX_PAGE_SIZE))
    return {key: items[(page - 1) * size: page * size],
            "page_info": {"page": page, "page_size": size, "total_number": len(items),
                          "total_page": math.ceil(len(items) / size)}}


def landing_page(value: Any, where: str) -> str | None:
    """An ad's landing_page_url: absent (None), or an absolute http(s) URL with a host, no whitespace, at most
    MAX_URL characters; else 40002."""
    if value is None:
        return None
    ok = isinstance(value, str) and 0 < len(value) <= MAX_URL and value.isprintable() and " " not in value
    parts = urlsplit(value) if ok else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"{where}.landing_page_url must be an http(s) URL of at most {MAX_URL} characters")
    return value


def call_to_action(value: Any, where: str) -> str | None:
    """An ad's call_to_action: absent (None) or one of CALL_TO_ACTIONS; else 40002."""
    if value is None:
        return None
    if value not in CALL_TO_ACTIONS:
        raise invalid(f"{where}.call_to_action must be one of {', '.join(CALL_TO_ACTIONS)}, got {value!r}")
    return value
