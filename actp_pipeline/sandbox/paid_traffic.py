"""Paid visitors: the people an ad's delivered clicks stand for follow the ad's link, land, and sometimes buy.

An ad whose destination is a tracked link (`.../r/SLUG` of a hooks service on loopback) sends each of its ad
set's delivered link clicks (the ads world's: Meta's inline_link_clicks, TikTok's destination clicks; only
completed hours, as insights report them) through that link over real HTTP, as the platform would: Meta
opens the creative's call_to_action link with the creative's url_tags and an `fbclid` appended; TikTok
opens the ad's landing_page_url (its tags already in it) with a `ttclid` appended. The hooks service
records the click with that platform click id and redirects; the visitor then sends what the landing page's
snippet would (traffic._visit): a page view, and for a converting visitor a purchase.

Known truth: which clicks convert is seeded per (ad set, click) at the conversion rate of the promoted
post's creative (traffic.Funnel: the same true rate as its organic clicks), so a paid click of a creative
converts as often as an organic one, and attribution's per-channel split can be checked against it.
/sandbox/truth/funnel lists each linked ad set's delivered clicks and what its visitors did.

Only loopback links are visited: the sandbox never sends traffic off the machine. An ad set's clicks go to
its oldest ad with a link (ACTP's ad sets hold one ad each); ad sets without a linked ad send nobody.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from .ads_world import ACTION_TYPES, AdsWorld, read_creatives
from .seeding import stream
from .traffic import LINK_RE, MAX_CLICKS_PER_RUN, PRICE, Funnel, send_visitors

CLICK_PARAM = {"meta": "fbclid", "tiktok": "ttclid"}  # what each platform appends to an ad's outbound link
META_KEY = "paid_traffic.{adset_id}"
LINK_CLICK = ACTION_TYPES.index("link_click")


@dataclass(frozen=True)
class LinkedAd:
    """An ad set whose ad sends its clicks through a tracked link."""

    account: str
    adset_id: str
    ad_id: str
    platform: str  # meta | tiktok
    link: str  # the tracked link, as the ad names it (before the platform's tags and click id)
    tags: str  # the query the platform adds to a click (Meta: url_tags; TikTok: already in the link)
    post_id: str  # the sandbox post the ad promotes

    def click_url(self, click_id: str) -> str:
        """The address a person's click opens: the link, the ad's tags, the platform's click id."""
        extra = "&".join(p for p in (self.tags, urlencode({CLICK_PARAM[self.platform]: click_id})) if p)
        return f"{self.link}{'&' if '?' in self.link else '?'}{extra}"

    @property
    def variant_id(self) -> str | None:
        query = self.tags or urlsplit(self.link).query
        return (parse_qs(query).get("utm_content") or [None])[0]


def _linked(ad: Mapping[str, Any], creatives: Mapping[str, Any], platform: str) -> tuple[str, str] | None:
    """(link, tags) of an ad whose destination is a loopback tracked link, else None."""
    cr = ad.get("creative") or {}
    if platform == "tiktok":
        link, tags = cr.get("landing_page_url"), ""
    else:
        stored = creatives.get(str(cr.get("id"))) or {}
        link = ((stored.get("call_to_action") or {}).get("value") or {}).get("link")
        tags = stored.get("url_tags") or ""
    if not isinstance(link, str) or not LINK_RE.match(link):
        return None
    return link, tags


class PaidTraffic:
    """Runs the paid visitors of every linked ad set up to now, keeping what it delivered in the sandbox
    state so a restart neither repeats nor skips a click."""

    def __init__(self, ads_world: AdsWorld, funnel: Funnel):
        self.world, self.funnel = ads_world, funnel
        self.state, self.seed = ads_world.state, ads_world.seed

    def linked_ads(self) -> list[LinkedAd]:
        out = []
        for acc in self.state.ads_accounts():
            objs = self.world.objects(acc)
            creatives = read_creatives(self.state, acc)
            for sid in objs.adsets:
                for ad in sorted(objs.ads_of.get(sid, []), key=lambda a: a["seq"]):
                    platform = "tiktok" if objs.extras.get(ad["id"], {}).get("platform") == "tiktok" else "meta"
                    found = _linked(ad, creatives, platform)
                    if found is not None:
                        out.append(LinkedAd(acc, sid, ad["id"], platform, *found,
                                            post_id=str(ad["creative"].get("object_story_id"))))
                        break
        return out

    def delivered(self, ads: list[LinkedAd], now: datetime) -> dict[str, int]:
        """Link clicks each ad set delivered in the hours completed by `now`."""
        now_h = int(now.timestamp()) // 3600
        out: dict[str, int] = {}
        for acc in sorted({a.account for a in ads}):
            objs = self.world.objects(acc)
            mine = {a.adset_id: a for a in ads if a.account == acc}
            wanted = {sid: range(int(objs.adsets[sid]["created_s"]) // 3600, now_h) for sid in mine}
            for (sid, _), cell in self.world.hourly(acc, {k: v for k, v in wanted.items() if len(v)},
                                                    objects=objs).items():
                clicks = cell.clicks if mine[sid].platform == "tiktok" else cell.actions[LINK_CLICK]
                out[sid] = out.get(sid, 0) + int(clicks)
        return out

    def conversion_rate(self, ad: LinkedAd) -> float:
        post = self.state.get_post(ad.post_id) or {}
        media = (self.state.get_media(post["media_id"]) if post.get("media_id") else None) or {}
        return self.funnel.rates(media.get("descriptor"), media.get("duration_s"))[1]

    def _record(self, adset_id: str) -> dict[str, Any]:
        raw = self.state.get_meta(META_KEY.format(adset_id=adset_id))
        return json.loads(raw) if raw else {"clicks": 0, "conversions": 0, "revenue": 0.0, "failures": 0}

    def run(self, client: httpx.Client, now: datetime) -> dict[str, int]:
        """Deliver every paid click due by `now`; returns counts of this run."""
        out = {"ads": 0, "paid_clicks": 0, "paid_conversions": 0, "failures": 0}
        ads = self.linked_ads()
        delivered = self.delivered(ads, now)
        for ad in ads:
            out["ads"] += 1
            got = self._run_ad(client, ad, delivered.get(ad.adset_id, 0))
            for k, v in got.items():
                out[k] += v
        return out

    def _run_ad(self, client: httpx.Client, ad: LinkedAd, due: int) -> dict[str, int]:
        rec = self._record(ad.adset_id)
        if due <= rec["clicks"]:
            return {"paid_clicks": 0, "paid_conversions": 0, "failures": 0}
        rate = self.conversion_rate(ad)
        got = send_visitors(client, range(rec["clicks"], min(due, rec["clicks"] + MAX_CLICKS_PER_RUN)), rec,
                            visitor=lambda i: (ad.click_url(f"sbx.{ad.adset_id}.{i}"), f"sbx-paid-{ad.adset_id}-{i}"),
                            buys=lambda i: float(stream(self.seed, "convert_paid", ad.adset_id, i).random()) < rate,
                            names=("paid_clicks", "paid_conversions"))
        if any(got.values()):
            self.state.set_meta(META_KEY.format(adset_id=ad.adset_id), json.dumps(rec))
        return got

    def truth(self, now: datetime) -> list[dict[str, Any]]:
        """Per linked ad set: its link, the creative's true conversion rate, the link clicks delivered and
        what the visitors did (evaluation only)."""
        ads = self.linked_ads()
        delivered = self.delivered(ads, now)
        return [{"channel": "paid", "adset_id": a.adset_id, "ad_id": a.ad_id, "account_id": a.account,
                 "platform": a.platform, "variant_id": a.variant_id, "post_id": a.post_id, "link": a.link,
                 "click_param": CLICK_PARAM[a.platform], "true_conversion_rate": self.conversion_rate(a),
                 "true_revenue_per_click": self.conversion_rate(a) * PRICE,
                 "delivered_clicks": delivered.get(a.adset_id, 0), **self._record(a.adset_id)} for a in ads]
