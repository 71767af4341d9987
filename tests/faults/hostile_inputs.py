"""Hostile request parts for the route fuzzer (route_fuzz.py), each drawn from a seeded `random.Random`
so a seed always gives the same inputs: path parameter values (plausible ones sampled from the route's
own convertor regex, hostile ones from a list), query strings, headers and bodies (JSON, forms,
multipart, video bytes, garbage)."""

from __future__ import annotations

import base64
import json
import re
import string
from random import Random
from re import _constants as sre_c
from re import _parser as sre_parse
from typing import Any
from urllib.parse import quote

MAX_BODY = 256 * 1024
MAX_QUERY = 30_000

# ------------------------------------------------------------------------------------- vocabulary
# the fields of the sandbox's own endpoints, its web forms and each dialect (TikTok's post_info/source_info/
# publish_id/filters, Graph's media_type/upload_type/video_url/creation_id, Ayrshare's post/platforms/
# mediaUrls, YouTube's part), so that well-formed bodies get past validation into the handlers
FIELD_NAMES = [
    "hours", "idempotency_key", "platform", "account", "caption", "hashtags", "scheduled_at",
    "name", "objective", "status", "daily_budget", "campaign_id", "adset_id", "targeting",
    "time_range", "filtering", "limit", "after", "before", "cursor", "fields", "date", "kind", "level",
    "breakdowns", "time_increment", "creative", "deep_copy", "status_option", "rename_options",
    "effective_status", "optimization_goal", "billing_event", "username", "password", "next", "id",
    "post_info", "source_info", "publish_id", "filters", "max_count", "media_type", "upload_type", "video_url",
    "creation_id", "post", "platforms", "mediaUrls", "part", "post_id",
]
GOOD_VALUES: list[Any] = [
    "instagram", "tiktok", "youtube", "main", "OUTCOME_LEADS", "ACTIVE", "PAUSED", "INHERITED_FROM_SOURCE",
    "2025-03-01", "2025-03-01T12:00:00Z", "2025-03-02T08:30:00+00:00", "adset", "1", "all_days", "post", "ad",
    "hourly_stats_aggregated_by_advertiser_time_zone", "id,name,status", 1, 24, 500, "10000", 2500, True,
    {"since": "2025-02-01", "until": "2025-03-01"}, {"geo_locations": {"countries": ["US"]}},
    {"rename_strategy": "NO_RENAME"}, {"rename_strategy": "DEEP_RENAME", "rename_suffix": " v2"},
    [{"field": "name", "operator": "CONTAIN", "value": "a"}], ["#a", "#b"], "creator", "sandbox-pass",
]
# values a handler accepts, per field name: a body of these gets past validation into the handler's work
FIELD_GOOD: dict[str, list[Any]] = {
    "hours": [1, 24, 0.5, 0], "platform": ["instagram", "tiktok", "youtube"], "account": ["main"],
    "caption": ["hi", ""], "hashtags": [["#a", "#b"], []], "idempotency_key": ["k1", "k2", "k3"],
    "scheduled_at": ["2025-03-02T08:30:00+00:00", "2025-03-01T12:00:00Z"], "name": ["c1", "set 2"],
    "objective": ["OUTCOME_LEADS", "OUTCOME_SALES"], "status": ["ACTIVE", "PAUSED"],
    "daily_budget": ["10000", 2500, "100"], "targeting": [{"geo_locations": {"countries": ["US"]}}],
    "time_range": [{"since": "2025-02-01", "until": "2025-03-01"}], "limit": [1, 2, "5"],
    "filtering": [[{"field": "name", "operator": "CONTAIN", "value": "c"}]], "fields": ["id,name,status"],
    "date": ["2025-03-01", "2025-02-27"], "kind": ["post", "ad"], "level": ["adset"], "time_increment": ["1"],
    "breakdowns": [["hourly_stats_aggregated_by_advertiser_time_zone"]], "deep_copy": [True, "false"],
    "status_option": ["PAUSED", "INHERITED_FROM_SOURCE"], "effective_status": [["ACTIVE"]],
    "rename_options": [{"rename_strategy": "NO_RENAME"}, {"rename_strategy": "DEEP_RENAME", "rename_suffix": " 2"}],
    "creative": [{"object_story_id": "p_0", "url_tags": "utm_content=v1"}], "username": ["creator"],
    "password": ["sandbox-pass"], "next": ["/web/posts"],
    "post_info": [{"title": "hi #a", "privacy_level": "SELF_ONLY"}, {"title": "", "privacy_level": "PUBLIC_TO_EVERYONE",
                                                                     "disable_comment": True}],
    "source_info": [{"source": "FILE_UPLOAD", "video_size": 2048, "chunk_size": 2048, "total_chunk_count": 1},
                    {"source": "PULL_FROM_URL", "video_url": "https://example.com/v.mp4"}],
    "filters": [{"video_ids": ["7000000000000000001"]}], "max_count": [1, 20],
    "media_type": ["REELS", "VIDEO"], "upload_type": ["resumable"], "video_url": ["https://example.com/v.mp4"],
    "post": ["hello #a", ""], "platforms": [["tiktok"], ["instagram", "youtube"]],
    "mediaUrls": [["https://example.com/v.mp4"]], "part": ["snippet,status", "id,statistics"],
}
BAD_DATES = [
    "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01", str(10**20) + "-01-01", "2025-02-30",
    "2025-13-01", "2025-3-1", "-2025-01-01", "2025-03-01T25:00:00", "2025-03-01\x00", "\u0662\u0660\u0662\u0665-03-01",
    "", "null", "1e999", "1970-01-01", "2100-12-31", "2101-01-01", "9999-12-31T23:59:59-14:00", "NaN",
]
HOSTILE_SCALARS: list[Any] = [
    None, True, False, 0, -1, -0.0, 2**63, -(2**63) - 1, 10**400, -(10**400), float("nan"), float("inf"),
    float("-inf"), 1e308, 1.5, "", " ", "\x00", "\ud800", "a\udfffb", "\u0665\u0660\u0660", "\uff15\uff10\uff10",
    "\u0661\u0660\u0660\u0660\u0660", "99999-01-01", "1e999", "NaN", "../../etc/passwd", "%00", "\u202etxt.exe",
    "<script>alert(1)</script>", "' OR 1=1 --", "\U0001F600" * 8, "x" * 5000, "[]", "{}", "true", "-1",
]
HOSTILE_SEGMENTS = [
    "..", "../..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%00", "a%00b", "%ff%fe", "%ED%A0%80", "%", "%zz",
    "\u00fc\u00f1\u00ee", "\U0001F600", "\u202e", "-1", "-9223372036854775809", "9" * 40, "1" + "0" * 400,
    "NaN", "Infinity", "1e999", "0x10", " ", "%20", "a" * 3000, "act_", "act_" + "a" * 65, "v21", "v21.0.1",
    "null", "{}", "[]", "%7B%22a%22%3A1%7D", "act_a%2Fcampaigns", "p_" + "0" * 16, "m_" + "f" * 20,
]
CONTENT_TYPES = [
    "application/json", "application/json; charset=latin-1", "text/plain", "application/xml", "image/png",
    "multipart/form-data", "application/x-www-form-urlencoded", "video/mp4", "application/octet-stream",
    "\u00e9/\u00e9", "application/json; boundary=" + "b" * 200, ";;;", "",
]
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


# ------------------------------------------------------------------------- regex-driven values
_POOL = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@ \u00e9\u4e2d"
_CATEGORIES = {
    sre_c.CATEGORY_DIGIT: lambda ch: ch.isdigit(), sre_c.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdigit(),
    sre_c.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    sre_c.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
    sre_c.CATEGORY_SPACE: lambda ch: ch.isspace(), sre_c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
}


def _in_class(ch: str, items: list) -> bool:
    negate, hit = False, False
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            hit |= ord(ch) == av
        elif op is sre_c.RANGE:
            hit |= av[0] <= ord(ch) <= av[1]
        elif op is sre_c.CATEGORY:
            hit |= _CATEGORIES.get(av, lambda _c: False)(ch)
    return hit != negate


def _sample(parsed: Any, rng: Random) -> str:
    out = []
    for op, av in parsed:
        if op is sre_c.LITERAL:
            out.append(chr(av))
        elif op in (sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
            allowed = [ch for ch in _POOL if (op is sre_c.ANY or (op is sre_c.IN and _in_class(ch, av))
                                              or (op is sre_c.NOT_LITERAL and ord(ch) != av))]
            out.append(rng.choice(allowed or ["a"]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            out.extend(_sample(sub, rng) for _ in range(rng.randint(lo, min(hi, lo + 8))))
        elif op is sre_c.BRANCH:
            out.append(_sample(rng.choice(av[1]), rng))
        elif op is sre_c.SUBPATTERN:
            out.append(_sample(av[3], rng))
        elif op is not sre_c.AT:
            raise ValueError(f"unsupported regex construct {op}")
    return "".join(out)


def from_regex(pattern: str, rng: Random) -> str | None:
    """A value that fully matches `pattern` (a route convertor's regex), or None when it cannot be sampled."""
    try:
        value = _sample(sre_parse.parse(pattern), rng)
    except ValueError:
        return None
    return value if re.fullmatch(pattern, value) else None


# ------------------------------------------------------------------------------------ path, query
def path_value(rng: Random, regex: str, harvested: list[str]) -> str:
    """One path parameter, already percent-encoded: mostly one the route accepts (a harvested id that
    fits, else a sample of its regex), else a hostile segment (raw, percent escapes included)."""
    roll = rng.random()
    fitting = [h for h in harvested if re.fullmatch(regex, h)]
    if roll < 0.45 and fitting:
        return quote(rng.choice(fitting), safe="")
    if roll < 0.85:
        value = from_regex(regex, rng)
        if value is not None:
            return quote(value, safe="")
    segment = rng.choice(HOSTILE_SEGMENTS)
    return segment if "%" in segment else quote(segment, safe=".")


def cursor(rng: Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        raw = json.dumps({"s": rng.choice(["x", "", None, 1]), "o": rng.choice(HOSTILE_SCALARS[:14])})
    elif kind == 1:
        raw = "c:" + rng.choice(["-1", "1" * 30, "", "x", "1.5", "\u0661", str(rng.randint(0, 10**6))])
    elif kind == 2:
        return rng.choice(["!!!", "====", "%00", "a" * 2000, "null", "-1", "1e999", "\u00e9"])
    else:
        raw = "".join(chr(rng.randrange(0, 256)) for _ in range(rng.randint(0, 40)))
    return base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=" * rng.randrange(2))


def good_value(rng: Random, name: str, harvested: list[str]) -> Any:
    """A value the field accepts: harvested ids for *_id fields, FIELD_GOOD otherwise."""
    if (name == "id" or name.endswith("_id") or name.endswith("_ids")) and harvested:
        value = rng.choice(harvested)
        return [value] if name.endswith("_ids") else value
    return rng.choice(FIELD_GOOD.get(name) or GOOD_VALUES)


def query_value(rng: Random, name: str, harvested: list[str]) -> str:
    roll = rng.random()
    if roll < 0.45:
        good = good_value(rng, name, harvested)
        return good if isinstance(good, str) else json.dumps(good)
    roll = (roll - 0.45) / 0.55
    if name in ("date", "since", "until") or roll < 0.12:
        return rng.choice(BAD_DATES)
    if name in ("cursor", "after", "before") or roll < 0.24:
        return cursor(rng)
    if name in ("time_range", "filtering", "breakdowns", "targeting") and roll < 0.6:
        return _json_text(json_value(rng, harvested, 3), rng)
    if roll < 0.55:
        return str(rng.choice(GOOD_VALUES + harvested))
    return str(rng.choice(HOSTILE_SCALARS))


def query_string(rng: Random, harvested: list[str]) -> str:
    """A query string: known and junk names, repeated keys, raw hostile escapes."""
    pairs: list[str] = []
    names = [n for n in FIELD_NAMES if rng.random() < 0.3] if rng.random() < 0.5 else []
    names += [rng.choice(FIELD_NAMES + ["", "a[b]", "%00", "\u00e9"]) for _ in range(rng.choice([0, 1, 2, 3, 5]))]
    for name in names:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):  # repeated keys
            value = quote(query_value(rng, name, harvested), safe="", errors="surrogatepass")
            if sum(map(len, pairs)) + len(value) < MAX_QUERY:  # httpx refuses URLs over 64 KB
                pairs.append(quote(name, safe="") + "=" + value)
    if rng.random() < 0.1:
        pairs.append(rng.choice(["%", "%zz", "a=%ff", "=", "&&", "a", "a=" + "%00" * 10]))
    return "&".join(pairs)


# ----------------------------------------------------------------------------------------- bodies
def json_value(rng: Random, harvested: list[str], depth: int = 3) -> Any:
    roll = rng.random()
    if depth > 0 and roll < 0.2:
        return {rng.choice(FIELD_NAMES): json_value(rng, harvested, depth - 1) for _ in range(rng.randint(0, 4))}
    if depth > 0 and roll < 0.3:
        return [json_value(rng, harvested, depth - 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.6:
        return rng.choice(GOOD_VALUES + harvested)
    if roll < 0.7:
        return rng.randint(-(10**6), 10**6)
    return rng.choice(HOSTILE_SCALARS)


def _json_text(value: Any, rng: Random) -> str:
    text = json.dumps(value, allow_nan=True)  # ensure_ascii: a lone surrogate is a \ud800 escape
    if rng.random() < 0.1:
        depth = rng.choice([65, 500, 20_000])
        text = "[" * depth + text + "]" * depth
    return text


def json_body(rng: Random, harvested: list[str]) -> bytes:
    """A JSON object of known fields with good, harvested, wrong-typed and hostile values, sometimes
    with a field dropped, a raw out-of-range number, a huge string or deep nesting."""
    mode = rng.random()
    if mode < 0.55:  # well-formed, sometimes with one field dropped or made hostile
        keep = 1.0 if mode < 0.25 else 0.6  # unknown fields are ignored, so every field at once is valid too
        body = {name: good_value(rng, name, harvested) for name in FIELD_NAMES if rng.random() < keep}
        if body and 0.15 < mode < 0.45:
            body[rng.choice(sorted(body))] = rng.choice(HOSTILE_SCALARS + [json_value(rng, harvested)])
    else:
        body = {name: json_value(rng, harvested) for name in rng.sample(FIELD_NAMES, rng.randint(0, 8))}
    roll = rng.random()
    if roll < 0.05:
        body["caption"] = "\U0001F600" * rng.randint(10_000, 60_000)  # up to ~240 KB in \\ud83d escapes
    text = _json_text(body, rng)
    if roll > 0.9 and text.startswith("{") and text != "{}":
        raw = rng.choice(["1e999", "-1e999", "1" + "0" * 400, "1E400", "-0", "NaN", "Infinity", "0x1F", "01"])
        text = "{" + json.dumps(rng.choice(FIELD_NAMES)) + ": " + raw + ", " + text[1:]
    if 0.85 < roll <= 0.9:
        text = rng.choice(["[]", "null", "1", '"s"', "{", '{"a":', "{}" * 3, "\ufeff{}", '{"a":1}x'])
    return text.encode("utf-8", "surrogatepass")[:MAX_BODY]


def form_body(rng: Random, harvested: list[str]) -> bytes:
    pairs = []
    for name in rng.sample(FIELD_NAMES, rng.randint(0, 12)):
        good = good_value(rng, name, harvested)
        value = rng.choice([good if isinstance(good, str) else json.dumps(good)] * 6 + [*BAD_DATES[:4], "\u0665\u0660\u0660", "\uff15\uff10\uff10", "10000001",
                            str(rng.choice(GOOD_VALUES + harvested)), str(rng.choice(HOSTILE_SCALARS))])
        pairs.append(quote(name) + "=" + quote(value, errors="surrogatepass"))
    text = "&".join(pairs)
    if rng.random() < 0.15:
        return text.encode() + b"&caption=%ff%fe&\xff\xfe=\x80"
    return text.encode()


def video_bytes(rng: Random, samples: list[bytes]) -> bytes:
    """Garbage, a bare MP4 header, a truncated or bit-flipped sample, or (rarely) a sample as is."""
    roll = rng.random()
    if samples and roll < 0.5:
        data = bytearray(rng.choice(samples)[:MAX_BODY])
        if roll < 0.15:
            return bytes(data[: rng.randrange(len(data) + 1)])
        for _ in range(rng.randint(1, 20)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data) if roll < 0.3 else rng.choice(samples)[:MAX_BODY]
    header = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    if roll < 0.75:
        return header + bytes(rng.randrange(256) for _ in range(rng.randint(0, 4096)))
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 2048)))


def multipart_body(rng: Random, harvested: list[str], samples: list[bytes]) -> tuple[bytes, str]:
    """(body, Content-Type) of a form upload, well-formed or broken in one of several ways."""
    boundary = rng.choice(["fuzzb0undary", "x", "b" * 70])
    parts = []
    names = ["idempotency_key", "platform", "account", "video"] if rng.random() < 0.5 else []
    names += rng.sample(["idempotency_key", "platform", "account", "caption", "hashtags", "scheduled_at",
                         "video", "name", "\u00e9"], rng.randint(0, 5))
    for name in names:
        if name == "video":
            head = 'Content-Disposition: form-data; name="video"; filename="v.mp4"\r\nContent-Type: video/mp4'
            parts.append(head.encode() + b"\r\n\r\n" + video_bytes(rng, samples))
        else:
            good = good_value(rng, name, harvested)
            value = " ".join(map(str, good)) if isinstance(good, list) else str(good)
            value = value if rng.random() < 0.6 else str(rng.choice(BAD_DATES[:5] + HOSTILE_SCALARS[-12:]))
            data = value.encode("utf-8", "surrogatepass") if rng.random() < 0.9 else b"\xff\xfe\x80"
            parts.append(f'Content-Disposition: form-data; name="{name}"'.encode("utf-8") + b"\r\n\r\n" + data)
    sep = b"--" + boundary.encode()
    body = b"".join(sep + b"\r\n" + p + b"\r\n" for p in parts) + sep + b"--\r\n"
    ctype = f"multipart/form-data; boundary={boundary}"
    roll = rng.random()
    if roll < 0.1:
        body = body[: rng.randrange(len(body) + 1)]  # cut off
    elif roll < 0.15:
        ctype = rng.choice(["multipart/form-data", "multipart/form-data; boundary=" + "b" * 71,
                            "multipart/form-data; boundary=\u00e9", "multipart/form-data; boundary="])
    elif roll < 0.2:
        body = sep + b"\r\nno headers here\r\n\r\n" + bytes(rng.randrange(256) for _ in range(64))
    return body[:MAX_BODY], ctype


def body_and_type(rng: Random, method: str, harvested: list[str], samples: list[bytes]) -> tuple[bytes, str | None]:
    """A request body and its Content-Type header (None = no header)."""
    if method in ("GET", "HEAD", "OPTIONS", "DELETE") and rng.random() < 0.8:
        return b"", None
    kind = rng.choices(["json", "form", "multipart", "video", "bytes", "empty"], [40, 14, 14, 14, 10, 8])[0]
    if kind == "multipart":
        return multipart_body(rng, harvested, samples)
    body = {"json": lambda: json_body(rng, harvested), "form": lambda: form_body(rng, harvested),
            "video": lambda: video_bytes(rng, samples), "empty": lambda: b"",
            "bytes": lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))}[kind]()
    natural = {"json": "application/json", "form": "application/x-www-form-urlencoded", "video": "video/mp4"}
    ctype = natural.get(kind) if rng.random() < 0.75 else rng.choice(CONTENT_TYPES + [None])
    return body, ctype
