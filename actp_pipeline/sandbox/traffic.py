"""Visitors: the sandbox world clicks the tracked links in its posts, lands, and sometimes buys.

A post whose caption carries a tracked link (`.../r/SLUG` of a hooks service on loopback) gets clicks as
it gets views: a Poisson process in view space, so the clicks by now are a seeded function of the views by
now and replaying a day gives the same clicks. Each click is a real HTTP request to the link (the hooks
service records it and redirects), then what the landing page's snippet would send: a page view, and for
a converting visitor a purchase with its value. Which clicks convert is seeded per (post, click).

Known truth: the click rate per view follows the creative's engagement appeal part way (people who like a
video click more, not proportionally); the conversion rate per click has factor effects of its own, drawn
per seed, so the creative that earns the most money need not be the most engaging one, which is what
attribution is for. /sandbox/truth/funnel reports both rates per post and what was delivered.

Calibration (assumptions, not measurements): BASE_CLICK_PER_VIEW 0.8% (a caption or bio link of a short
video is clicked by well under 1-2% of viewers; the ads side's link CTR of ~0.9% per impression,
ads_world.BASE_RATES, is of the same order), BASE_CONVERSION 3% per click (e-commerce landing pages are
commonly quoted at 2-4%), one price of $29.

Only loopback links are visited: the sandbox never sends traffic off the machine.

Paid visitors (paid_traffic.py: the clicks ads deliver, through each ad's own tracked link, with the
platform's click id) run in the same `run`, when the app gives Traffic its `paid` part; the truth lists
them apart (`paid`) and sums each channel (`by_channel`), so attribution's organic/paid split is checkable.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np

from actp_pipeline import creative

from .model import WorldModel, _logit, _sigmoid
from .seeding import stream

BASE_CLICK_PER_VIEW = 0.008
BASE_CONVERSION = 0.03
CLICK_FROM_APPEAL = 0.5  # share of a creative's engagement appeal (logit) that carries over to clicks
CONVERSION_FACTOR_SD = 0.35  # sd of the conversion effect of a factor level (logit)
PRICE, CURRENCY = 29.0, "USD"
MAX_CLICKS_PER_RUN = 2_000  # per post and run: a long clock jump is caught up over several runs
LINK_RE = re.compile(r"https?://(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(?::\d{1,5})?/r/[a-z2-7]{12}")
USER_AGENT = "Mozilla/5.0 (Linux; Android 14) ACTP-sandbox-visitor/1.0"
META_KEY = "traffic.{post_id}"


def link_in(caption: str | None) -> str | None:
    """The first loopback tracked link in a caption, if any."""
    m = LINK_RE.search(caption or "")
    return m.group(0) if m else None


class Funnel:
    """The world's true click and conversion rates per creative."""

    def __init__(self, model: WorldModel):
        self.model = model
        rng = stream(model.config.seed, "conversion_effects")
        self.conversion_effects = {f: {lvl: round(float(rng.normal(0.0, CONVERSION_FACTOR_SD)), 4) for lvl in levels}
                                   for f, levels in creative.FACTOR_LEVELS.items()}

    def rates(self, descriptor: dict[str, Any] | None, duration_s: float | None = None) -> tuple[float, float]:
        """(clicks per view, conversions per click) of a creative."""
        app = self.model.true_appeal(descriptor, None, duration_s)
        click = _sigmoid(_logit(BASE_CLICK_PER_VIEW) + CLICK_FROM_APPEAL * app["appeal_logit"])
        conv_logit = _logit(BASE_CONVERSION)
        for f, level in app["factors"].items():
            if level is not None:
                conv_logit += self.conversion_effects[f][level]
        return click, _sigmoid(conv_logit)


class ClickArrivals:
    """Seeded arrival points (in views) of one post's clicks: clicks by V views = arrivals <= V."""

    def __init__(self, seed: int, post_id: str, rate: float):
        self._rng = stream(seed, "clicks", post_id)
        self._rate = rate
        self._points = np.empty(0)

    def count(self, views: float) -> int:
        while not len(self._points) or self._points[-1] <= views:
            gaps = self._rng.exponential(1.0 / self._rate, 256)
            start = self._points[-1] if len(self._points) else 0.0
            self._points = np.concatenate([self._points, start + np.cumsum(gaps)])
        return int(np.searchsorted(self._points, views, side="right"))


class Traffic:
    """Runs the visitors of every linked post up to the sandbox's now (`run`), keeping what it delivered in
    the sandbox state so a restart neither repeats nor skips a click."""

    def __init__(self, publishing: Any, client_factory: Callable[[], httpx.Client] | None = None):
        self.publishing = publishing
        self.funnel = Funnel(publishing.world)
        self._arrivals: dict[str, ClickArrivals] = {}
        self._lock = threading.Lock()
        self._client_factory = client_factory or (lambda: httpx.Client(timeout=5.0, follow_redirects=False,
                                                                        headers={"User-Agent": USER_AGENT}))
        self.paid: Any = None  # paid_traffic.PaidTraffic (the app sets it): the ads' visitors, run alongside

    def _record(self, post_id: str) -> dict[str, Any]:
        raw = self.publishing.state.get_meta(META_KEY.format(post_id=post_id))
        return json.loads(raw) if raw else {"clicks": 0, "conversions": 0, "revenue": 0.0, "failures": 0}

    def rates_of(self, post: dict[str, Any]) -> tuple[float, float]:
        m = self.publishing.state.get_media(post["media_id"]) or {}
        return self.funnel.rates(m.get("descriptor"), m.get("duration_s"))

    def run(self, now: datetime | None = None) -> dict[str, int]:
        """Deliver every click due by `now`; returns counts of this run."""
        now = now or self.publishing.clock.now()
        out = {"posts": 0, "clicks": 0, "conversions": 0, "failures": 0}
        with self._lock, self._client_factory() as client:
            for post in self.publishing.state.list_posts():
                link = link_in(post.get("caption"))
                if link is None or self.publishing.status_of(post, now) != "live":
                    continue
                out["posts"] += 1
                for k, v in self._run_post(client, post, link, now).items():
                    out[k] += v
            if self.paid is not None:  # organic keys count organic visitors; the paid_ ones the ads'
                for k, v in self.paid.run(client, now).items():
                    out[k] = out.get(k, 0) + v
        return out

    def _run_post(self, client: httpx.Client, post: dict[str, Any], link: str, now: datetime) -> dict[str, int]:
        pid = post["post_id"]
        click_rate, conv_rate = self.rates_of(post)
        arrivals = self._arrivals.get(pid)
        if arrivals is None:
            arrivals = self._arrivals[pid] = ClickArrivals(self.publishing.config.seed, pid, click_rate)
        views = self.publishing.trajectory_of(post).counts_at(now)["views"]
        rec = self._record(pid)
        due = min(arrivals.count(views), rec["clicks"] + MAX_CLICKS_PER_RUN)
        got = send_visitors(client, range(rec["clicks"], due), rec,
                            visitor=lambda i: (link, f"sbx-{pid}-{i}"),
                            buys=lambda i: float(stream(self.publishing.config.seed, "convert", pid, i).random())
                            < conv_rate)
        if any(got.values()):  # nothing new: no write (every post is looked at on every run)
            self.publishing.state.set_meta(META_KEY.format(post_id=pid), json.dumps(rec))
        return got

    def truth(self) -> dict[str, Any]:
        """Per linked post (`items`) and linked ad set (`paid`): true rates and what the visitors delivered,
        and each channel's totals (`by_channel`); evaluation only."""
        items = []
        for post in self.publishing.state.list_posts():
            link = link_in(post.get("caption"))
            if link is None:
                continue
            m = self.publishing.state.get_media(post["media_id"]) or {}
            app = self.publishing.world.true_appeal(m.get("descriptor"), None, m.get("duration_s"))
            click_rate, conv_rate = self.rates_of(post)
            items.append({"channel": "organic", "post_id": post["post_id"], "variant_id": app["variant_id"],
                          "platform": post["platform"],
                          "link": link, "true_click_per_view": click_rate, "true_conversion_rate": conv_rate,
                          "true_revenue_per_click": conv_rate * PRICE, "factors": app["factors"],
                          **self._record(post["post_id"])})
        paid = self.paid.truth(self.publishing.clock.now()) if self.paid is not None else []
        return {"items": items, "paid": paid, "by_channel": {"organic": _sums(items), "paid": _sums(paid)},
                "price": PRICE, "currency": CURRENCY, "conversion_effects": self.funnel.conversion_effects}


def _sums(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Clicks, conversions and revenue the visitors of one channel delivered."""
    return {"clicks": sum(r["clicks"] for r in rows), "conversions": sum(r["conversions"] for r in rows),
            "revenue": round(sum(r["revenue"] for r in rows), 2)}


class VisitFailed(Exception):
    pass


def send_visitors(client: httpx.Client, clicks: Iterable[int], rec: dict[str, Any], *,
                  visitor: Callable[[int], tuple[str, str]], buys: Callable[[int], bool],
                  names: tuple[str, str] = ("clicks", "conversions")) -> dict[str, int]:
    """Visitors `clicks` in order, each through its (link, sale key), buying when `buys(i)`; `rec` (the
    channel's record of what it delivered) is updated, and the counts of this run returned under `names`
    (clicks, conversions) and failures. The first failed visit stops the run: the hooks service is down or the
    link not known yet, so the same click is sent again next run and none is skipped or sent twice."""
    got = {names[0]: 0, names[1]: 0, "failures": 0}
    for i in clicks:
        purchase = buys(i)
        link, key = visitor(i)
        try:
            _visit(client, link, key, purchase)
        except (httpx.HTTPError, VisitFailed):
            rec["failures"] += 1
            got["failures"] += 1
            break
        rec["clicks"] += 1
        got[names[0]] += 1
        if purchase:
            rec["conversions"] += 1
            rec["revenue"] = round(rec["revenue"] + PRICE, 2)
            got[names[1]] += 1
    return got


def _visit(client: httpx.Client, link: str, key: str, buys: bool) -> None:
    """One visitor: the click (the link answers 302 with the click id), the page view, maybe a purchase."""
    resp = client.get(link)
    if resp.status_code != 302:
        raise VisitFailed(f"{link} answered {resp.status_code}")
    landing = resp.headers["location"]
    cid = (parse_qs(urlsplit(landing).query).get("actp_cid") or [""])[0]
    base = link.split("/r/", 1)[0]  # the hooks service (a paid click's query follows the slug)
    body = {"click_id": cid, "url": landing}
    if client.post(base + "/e/pv", content=json.dumps(body)).status_code != 204:
        raise VisitFailed("the page view was refused")
    if buys:
        sale = {"click_id": cid, "event": "purchase", "value": PRICE, "currency": CURRENCY, "dedupe_key": key}
        if client.post(base + "/e/conversion", content=json.dumps(sale)).status_code not in (200, 201):
            raise VisitFailed("the purchase was refused")
