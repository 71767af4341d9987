"""Tracked links: one per post, its destination fixed when the post is recorded, never taken from a request;
and one per ad (channel 'paid'), made by the ads executor before the ad (ads/ad_links.py).

An open redirect is a link whose target the visitor can choose. The redirect here has no such input: the
slug is looked up in the links table and the Location is built from the stored destination, which was
checked when the link was made (and is checked again before every answer, in case a row was edited by
hand). A request that tries to steer it (`?url=`, `?next=`, a second path segment, `//host`, `@`,
backslashes, percent-encoded or unicode variants of those) matches no slug and gets a 4xx.

The slug is derived from the post's idempotency key, so re-recording a post (a retried worker, a re-run
day) finds the link it made before instead of making a second one; links are not secrets (anyone who sees
the post can click it), so a guessable slug gives nothing away.

Channels: a post's link is 'organic', an ad's 'paid' (its key "ad:<ads platform>:<account>:<variant>",
`ad_link_key`); the redirect's utm_medium says which (actp_post / actp_paid), and attribution splits on it.
An ad platform appends its own parameters to the link a person clicks: its click id (fbclid, ttclid, gclid)
and the ad's URL tags (Meta's url_tags; TikTok's landing page URL carries them). The click id is kept;
the tags (AD_TAG_PARAMS) are accepted and dropped: the link's own UTM tags win, so none of them can steer
where the redirect goes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from actp_pipeline.ads.meta_signals import is_loopback  # one loopback rule (127.0.0.0/8, ::1, localhost)
from actp_pipeline.store import schema
from actp_pipeline.store.engine import insert_ignoring_conflict

SLUG_RE = re.compile(r"[a-z2-7]{12}")  # 60 bits of the key's SHA-256 in lower-case base32
HOST_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_URL = 2000
CLICK_VALUE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,200}")  # a platform click id's value
UTM_SOURCE = "actp"  # utm_source is the platform; this names the tool in utm_medium
# parameters an ad platform appends to an outbound link; they are kept with the click and passed on
PLATFORM_CLICK_PARAMS = ("fbclid", "ttclid", "gclid")
CLICK_PARAM = "actp_cid"  # the click id the landing page's snippet reads and sends back
# an ad's URL tags, which the ad platform appends to the link (ads/meta_records.UTM; ads/tiktok COPY_MARK)
AD_TAG_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id", "actp_from")
ORGANIC, PAID = "organic", "paid"
CHANNELS = (ORGANIC, PAID)
MEDIUM = {ORGANIC: f"{UTM_SOURCE}_post", PAID: f"{UTM_SOURCE}_paid"}  # utm_medium of each channel


class BadDestination(ValueError):
    """A destination the redirect will not send anyone to; the message says what is wrong with it."""


class BadClickParameters(ValueError):
    """A click's query holds more than the ad platform's click id and the ad's URL tags."""


@dataclass(frozen=True)
class Link:
    slug: str
    variant_id: str
    platform: str
    account: str
    campaign: str
    destination: str
    channel: str = ORGANIC


def ad_link_key(ads_platform: str, account: str, variant_id: str) -> str:
    """The idempotency key of an ad's link: one per (ads platform, ad account, creative)."""
    return f"ad:{ads_platform}:{account}:{variant_id}"


def slug_for(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:12]


def check_destination(url: str) -> str:
    """`url` if it is a plain https address of a named host (http only on loopback, for the sandbox);
    else BadDestination naming the problem."""
    if not isinstance(url, str) or not url:
        raise BadDestination("the destination is empty")
    if len(url) > MAX_URL:
        raise BadDestination(f"the destination is longer than {MAX_URL} characters")
    if any(c in url for c in "\\\t\r\n ") or not url.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadDestination("the destination has a backslash, whitespace, a control or a non-ASCII character "
                             "(write an internationalised host in its xn-- form)")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise BadDestination(f"the destination's scheme is {parts.scheme or 'missing'!r}; use https")
    if "@" in parts.netloc:
        raise BadDestination("the destination has user information (user@host)")
    host = (parts.hostname or "").lower()
    loopback = is_loopback(url)
    if not host or not (HOST_RE.fullmatch(host) or loopback):
        raise BadDestination(f"the destination's host {host or '(none)'!r} is not a host name")
    if parts.scheme == "http" and not loopback:
        raise BadDestination("the destination must be https (http only for a loopback test page)")
    try:
        parts.port
    except ValueError as e:
        raise BadDestination(f"the destination's port is not a number ({e})") from None
    if parts.path.startswith("//"):
        raise BadDestination("the destination's path starts with //")
    return url


def platform_click(params: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The ad platform's click id (name, value) among a click's query parameters, None when there is none.
    BadClickParameters unless the parameters are at most one click id (PLATFORM_CLICK_PARAMS, value of
    CLICK_VALUE_RE) and an ad's URL tags (AD_TAG_PARAMS, short and printable), each name at most once."""
    names = [k for k, _ in params]
    if len(names) != len(set(names)) or any(k not in PLATFORM_CLICK_PARAMS + AD_TAG_PARAMS for k in names):
        raise BadClickParameters("a tracked link takes no parameters but the ad platform's click id and the ad's tags")
    clicks = [(k, v) for k, v in params if k in PLATFORM_CLICK_PARAMS]
    if len(clicks) > 1 or any(not CLICK_VALUE_RE.fullmatch(v) for _, v in clicks):
        raise BadClickParameters("at most one platform click id, of [A-Za-z0-9_.-]")
    if any(len(v) > 200 or not v.isprintable() for k, v in params if k in AD_TAG_PARAMS):
        raise BadClickParameters("an ad tag is longer than 200 characters or not printable")
    return clicks[0] if clicks else None


def location(link: Link, click_id: str, platform_click: tuple[str, str] | None = None) -> str:
    """The redirect's target: the stored destination with UTM parameters (source = platform, medium = the
    channel's, campaign, content = the creative) and the click id, replacing any of those the destination had."""
    parts = urlsplit(check_destination(link.destination))
    tags = {"utm_source": link.platform, "utm_medium": MEDIUM.get(link.channel, MEDIUM[ORGANIC]),
            "utm_campaign": link.campaign,
            "utm_content": link.variant_id, CLICK_PARAM: click_id}
    if platform_click is not None:
        tags[platform_click[0]] = platform_click[1]
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in tags]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(kept + list(tags.items())),
                       parts.fragment))


def create_link(conn: Connection, *, idempotency_key: str, variant_id: str, platform: str, account: str,
                campaign: str, destination: str, now: dt.datetime, channel: str = ORGANIC) -> str:
    """The post's (or, channel 'paid', the ad's) link, made once per idempotency key inside the caller's
    transaction; returns its slug."""
    check_destination(destination)
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    slug = slug_for(idempotency_key)
    insert_ignoring_conflict(conn, schema.links, {
        "slug": slug, "idempotency_key": idempotency_key, "variant_id": variant_id, "platform": platform,
        "account": account, "campaign": campaign[:128], "destination": destination, "created_at": now,
        "channel": channel})
    return slug


def load_link(conn: Connection, slug: str) -> Link | None:
    t = schema.links
    row = conn.execute(sa.select(t.c.slug, t.c.variant_id, t.c.platform, t.c.account, t.c.campaign,
                                 t.c.destination, t.c.channel).where(t.c.slug == slug)).first()
    return Link(*row) if row is not None else None


def link_url(base_url: str, slug: str) -> str:
    """The public address of a tracked link on the hooks service at `base_url`."""
    return f"{base_url.rstrip('/')}/r/{slug}"
