"""The ads world behind the sandbox's Graph-shaped ads API: what each ad set delivers, hour by hour.

The world model (deterministic from the world seed and the change log)
---------------------------------------------------------------------
Every create, status, budget and name change is logged with its simulated time. An ad set delivers
during the part of an hour in which it, its campaign and at least one of its ads are ACTIVE. Its budget
for the hour is daily_budget / 24 (ABO), or its campaign's daily_budget / 24 split across the campaign's
delivering ad sets in proportion to their creative multiplier (CBO favours performers); budgets and
states are integrated piecewise over the hour. spend = floor(budget x pacing), pacing in [0.85, 1.0],
so spend never exceeds the budget; impressions = spend / CPM x 1000 with CPM = BASE_CPM ($6) x the account's
seeded factor (0.8..1.2); each action count ~ Poisson(impressions x base rate x creative multiplier),
clicks ~ Poisson(impressions x link_click rate x multiplier). The creative multiplier is the
platform-neutral engagement probability of the post's media descriptor (World.true_appeal) over the
world's mean across all factor combinations, so creatives that do better organically do better in ads.
Every random number is a lane of a hash of (world seed, ad set id, hour), one lane per draw (pacing,
clicks, each action type): reproducible and independent of query order. Only completed hours are
reported; an hour once complete never changes (changes are logged at the current time, never in the
past, and an end_time can only be moved into the future), so computed hours are cached. An object with a
schedule (start_time, end_time / stop_time, kept in the account's extras) delivers only inside it; a
lifetime budget is delivered as its even daily share (ads_objects.py). Insights group the hourly cells by
level (account, campaign, ad set, or the ad set's one ad) and report ThruPlays as Meta does, in
`video_thruplay_watched_actions`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from .clock import SimClock
from .graph import HOURLY, invalid, utm_content
from .model import FACTOR_LEVELS
from .seeding import stream
from .state import SandboxState
from .world import World

# Events per impression of a creative of the world's mean appeal (issue 10, item 9). Ranges as recalled
# (no web access when these were set; not re-checked); every point value is an ASSUMPTION inside its range:
# - thruplay: Meta counts a ThruPlay when a video is played to completion, or for at least 15 seconds if
#   it is longer (Meta Business Help Center, "About ThruPlay"). Practitioners' in-feed figures put 3-second
#   views at roughly 25-35% of impressions and ThruPlays at roughly a quarter to a third of those, i.e.
#   about 5-12% of impressions; a rule of thumb, not one report I can cite. Picked: 8%. (Was 20%, which the
#   creative multiplier pushed to 40-70% for the creatives the pipeline converges on.)
# - link_click: WordStream/LocaliQ's Facebook Ads Benchmarks put the average CTR at about 0.9% in their
#   older editions (all industries) and about 1.5% in the 2023-2024 ones (traffic campaigns). Picked: 1.0%.
# - smartlink_click, profile_view, presave_complete, lead: no published benchmark used; kept as fractions
#   of the link click rate (assumptions, unchanged).
BASE_RATES: dict[str, float] = {
    "thruplay": 0.08,
    "link_click": 0.010,
    "smartlink_click": 0.008,
    "profile_view": 0.006,
    "presave_complete": 0.003,
    "lead": 0.002,
}
ACTION_TYPES = tuple(BASE_RATES)
# Dollars per 1000 impressions before the account factor. Third-party Meta trackers (Revealbot, now Birch,
# "Facebook ads benchmarks"; AdEspresso's Facebook ads cost reports), 2022-2024, show monthly average CPMs of
# roughly $6-$14 (as recalled); Reels and TikTok in-feed placements sit at the low end. Picked: $6.00, an
# ASSUMPTION at the low end of that range ($5 buys ~830 impressions; was $3.33, ~1,500 impressions).
BASE_CPM = 6.00
ACCOUNT_CPM_RANGE = (0.8, 1.2)
PACING_RANGE = (0.85, 1.0)

# ------------------------------------------------------------------------------- random numbers
DRAWS = ("pacing", "clicks", *ACTION_TYPES)  # the random draws of one ad set-hour, one hash lane each


def _uniforms(seed: int, cells: list[tuple[str, int]]) -> np.ndarray:
    """Uniforms in (0, 1), shape (len(cells), len(DRAWS)): lane j of the 512-bit hash of (world seed, ad set
    id, hour) is draw DRAWS[j], so each draw depends only on those and its name, never on query order."""
    raw = b"".join(hashlib.blake2b(f"{seed}|ads|{sid}|{hour}".encode(), digest_size=64).digest() for sid, hour in cells)
    lanes = np.frombuffer(raw, dtype=">u8").reshape(len(cells), 8)[:, : len(DRAWS)]
    return np.minimum((lanes.astype(np.float64) + 0.5) / 2.0**64, 1.0 - 2.0**-53)  # 2**64 - 1 rounds up to 1.0


def _poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Smallest k with P(Poisson(lam) <= k) >= u, elementwise (inversion keeps each draw one uniform)."""
    from scipy.special import (  # here: scipy is slow to import and only insights need it
        ndtri,
        pdtr,
    )

    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    z = ndtri(u)
    k = np.maximum(np.floor(lam + np.sqrt(lam) * z + (z * z - 1.0) / 6.0 + 0.5), 0.0)  # Cornish-Fisher guess
    for _ in range(200):
        up = pdtr(k, lam) < u
        down = (k > 0) & (pdtr(k - 1, lam) >= u)
        if not (up.any() or down.any()):
            break
        k = k + up - down
    k[lam <= 0] = 0
    return k.astype(np.int64)


# -------------------------------------------------------------------------------------- timeline
class _Timeline:
    """Status and daily budget of every object of an account over time, from its change log."""

    def __init__(self, changes: list[dict[str, Any]]):
        self._series: dict[tuple[str, str], tuple[list[float], list[Any]]] = {}
        for ch in changes:
            oid, f, at = ch["object_id"], ch["field"], ch["at_s"]
            if f == "create":
                init = json.loads(ch["value"])
                self._add(oid, "status", at, init["status"])
                self._add(oid, "daily_budget", at, init.get("daily_budget"))
            elif f == "status":
                self._add(oid, "status", at, ch["value"])
            elif f == "daily_budget":
                self._add(oid, "daily_budget", at, int(ch["value"]) if ch["value"] is not None else None)

    def _add(self, oid: str, field: str, at: float, value: Any) -> None:
        times, values = self._series.setdefault((oid, field), ([], []))
        times.append(at)
        values.append(value)

    def at(self, oid: str, field: str, t: float) -> Any:
        """The value at time t (changes at t included); None before the object existed."""
        series = self._series.get((oid, field))
        if series is None:
            return None
        i = bisect_right(series[0], t)
        return series[1][i - 1] if i else None

    def change_times(self, oids: Iterable[str]) -> list[float]:
        """Every time one of these objects changed status or budget, sorted (for cuts())."""
        out: set[float] = set()
        for oid in oids:
            for f in ("status", "daily_budget"):
                series = self._series.get((oid, f))
                if series is not None:
                    out.update(series[0])
        return sorted(out)

    @staticmethod
    def cuts(times: list[float], start: float, end: float) -> list[float]:
        """start, end and the change `times` strictly between them, sorted."""
        inside = times[bisect_right(times, start) : bisect_right(times, end)]
        return [start, *(t for t in inside if t < end), end]


@dataclass(frozen=True)
class _Cell:
    """What one ad set delivered in one completed hour."""

    spend_cents: int
    impressions: int
    clicks: int
    actions: tuple[int, ...]  # in ACTION_TYPES order


_NOTHING = _Cell(0, 0, 0, (0,) * len(ACTION_TYPES))
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# what the state's ads tables have no column for, as JSON in its key-value table (one value per account)
EXTRAS_KEY = "ads_extras:{account}"  # object id -> lifetime_budget, start/end/stop_time, bid_strategy, ...
CREATIVES_KEY = "ads_creatives:{account}"  # creative id -> the ad creative
CREATIVE_OWNER_KEY = "ads_creative_account:{id}"  # creative id -> its account
REPORT_KEY = "ads_report_run:{id}"  # async insights job id -> its query


def _read_json(state: SandboxState, key: str) -> dict[str, Any]:
    raw = state.get_meta(key)
    return json.loads(raw) if raw else {}


def read_extras(state: SandboxState, account: str) -> dict[str, dict[str, Any]]:
    return _read_json(state, EXTRAS_KEY.format(account=account))


def write_extras(state: SandboxState, account: str, extras: Mapping[str, Any]) -> None:
    state.set_meta(EXTRAS_KEY.format(account=account), json.dumps(extras, separators=(",", ":")))


def read_creatives(state: SandboxState, account: str) -> dict[str, dict[str, Any]]:
    return _read_json(state, CREATIVES_KEY.format(account=account))


def write_creatives(state: SandboxState, account: str, creatives: Mapping[str, Any]) -> None:
    state.set_meta(CREATIVES_KEY.format(account=account), json.dumps(creatives, separators=(",", ":")))


class Objects:
    """An account's campaigns, ad sets and ads by id, with the ad sets per campaign and ads per ad set, and
    the objects' extras (schedules, lifetime budgets)."""

    def __init__(self, campaigns: list[dict[str, Any]], adsets: list[dict[str, Any]], ads: list[dict[str, Any]],
                 extras: Mapping[str, dict[str, Any]] | None = None):
        self.extras = dict(extras or {})
        self.campaigns = {c["id"]: c for c in campaigns}
        self.adsets = {s["id"]: s for s in adsets}
        self.ads = {a["id"]: a for a in ads}
        self.adsets_of: dict[str, list[dict[str, Any]]] = {}
        for s in adsets:
            self.adsets_of.setdefault(s["campaign_id"], []).append(s)
        self.ads_of: dict[str, list[dict[str, Any]]] = {}
        for a in ads:
            self.ads_of.setdefault(a["adset_id"], []).append(a)


class AdsWorld:
    """Delivery of every ad set of every account, computed once per completed hour and cached."""

    def __init__(self, world: World, state: SandboxState, clock: SimClock):
        self.world = world
        self.state = state
        self.clock = clock
        self.seed = int(world.config.seed)
        self._cells: dict[tuple[str, int], _Cell] = {}
        self._cells_lock = threading.Lock()
        self._multipliers: dict[str, float] = {}
        self._mean_er: float | None = None

    def objects(self, account: str) -> Objects:
        return Objects(self.state.ads_list("campaign", account), self.state.ads_list("adset", account),
                       self.state.ads_list("ad", account), read_extras(self.state, account))

    # --------------------------------------------------------------------------------- the world
    def account_cpm(self, account: str) -> float:
        lo, hi = ACCOUNT_CPM_RANGE
        return BASE_CPM * float(stream(self.seed, "ads_account_cpm", account).uniform(lo, hi))

    def mean_er(self) -> float:
        """The world's mean engagement probability over every combination of factor levels."""
        if self._mean_er is None:
            names = list(FACTOR_LEVELS)
            ers = [self.world.true_appeal(dict(zip(names, combo)))["true_er"]
                   for combo in itertools.product(*FACTOR_LEVELS.values())]
            self._mean_er = float(np.mean(ers))
        return self._mean_er

    def multiplier(self, post_id: str) -> float:
        """How much better than the world's mean the post's creative converts (its true appeal)."""
        mult = self._multipliers.get(post_id)
        if mult is None:
            post = self.state.get_post(post_id)
            media = (self.state.get_media(post["media_id"]) if post else None) or {}
            app = self.world.true_appeal(media.get("descriptor"), None, media.get("duration_s"))
            mult = self._multipliers[post_id] = app["true_er"] / self.mean_er()
        return mult

    def _ad_multiplier(self, ad: Mapping[str, Any]) -> float:
        return self.multiplier(ad["creative"]["object_story_id"])

    def _allocate(self, camp: dict[str, Any], adsets: list[dict[str, Any]], ads: dict[str, list[dict[str, Any]]],
                  tl: _Timeline, times: list[float], hour: int,
                  extras: Mapping[str, dict[str, Any]]) -> dict[str, tuple[float, float]]:
        """Per ad set of the campaign: (budget in cents it may spend in the hour, that x its multiplier).
        `times` are the change times of the campaign and everything in it."""
        h0, h1 = hour * 3600.0, (hour + 1) * 3600.0
        out = {s["id"]: (0.0, 0.0) for s in adsets}
        cuts = tl.cuts(times, h0, h1)
        for a, b in itertools.pairwise(cuts):
            if tl.at(camp["id"], "status", a) != "ACTIVE" or not _scheduled(extras.get(camp["id"]), a):
                continue
            delivering: dict[str, float] = {}
            for s in adsets:
                if tl.at(s["id"], "status", a) != "ACTIVE" or not _scheduled(extras.get(s["id"]), a):
                    continue
                mults = [self._ad_multiplier(ad) for ad in ads.get(s["id"], [])
                         if tl.at(ad["id"], "status", a) == "ACTIVE"]
                if mults:
                    delivering[s["id"]] = sum(mults) / len(mults)
            if not delivering:
                continue
            hours = (b - a) / 3600.0
            cbo = tl.at(camp["id"], "daily_budget", a)
            total_w = sum(delivering.values())
            for sid, mult in delivering.items():
                if camp["daily_budget"] is not None:
                    cents = (cbo or 0) / 24.0 * hours * mult / total_w
                else:
                    cents = (tl.at(sid, "daily_budget", a) or 0) / 24.0 * hours
                spent, weighted = out[sid]
                out[sid] = (spent + cents, weighted + cents * mult)
        return out

    def _draw(self, cells: list[tuple[str, int, float, float, float]]) -> list[_Cell]:
        """Spend, impressions, clicks and actions of (ad set id, hour, budget cents, weighted, cpm) cells."""
        if not cells:
            return []
        k = len(ACTION_TYPES)
        u = _uniforms(self.seed, [(sid, hour) for sid, hour, *_ in cells])
        budget = np.array([c[2] for c in cells])
        mult = np.array([c[3] / c[2] for c in cells])
        cpm = np.array([c[4] for c in cells])
        lo, hi = PACING_RANGE
        spend = np.floor(budget * (lo + (hi - lo) * u[:, 0]) + 1e-9).astype(np.int64)
        spend = np.minimum(spend, np.floor(budget + 1e-9).astype(np.int64))
        impressions = np.rint(spend / 100.0 / cpm * 1000.0)
        rates = np.array([BASE_RATES["link_click"], *BASE_RATES.values()])
        lam = impressions[:, None] * mult[:, None] * rates[None, :]
        counts = _poisson_quantile(u[:, 1:], lam)
        return [_Cell(sp, int(im), row[0], tuple(row[1 : k + 1]))
                for sp, im, row in zip(spend.tolist(), impressions.tolist(), counts.tolist())]

    def hourly(self, account: str, wanted: Mapping[str, range], *, objects: Objects) -> dict[tuple[str, int], _Cell]:
        """The cells of completed hours `wanted[adset_id]` (hour = epoch seconds // 3600) of the account's
        `objects`, computed once."""
        out: dict[tuple[str, int], _Cell] = {}
        missing: set[tuple[str, int]] = set()
        with self._cells_lock:
            for sid, hours in wanted.items():
                for h in hours:
                    cell = self._cells.get((sid, h))
                    if cell is None:
                        missing.add((sid, h))
                    else:
                        out[(sid, h)] = cell
        if not missing:
            return out
        tl = _Timeline(self.state.ads_changes(account))
        cpm = self.account_cpm(account)
        computed: dict[tuple[str, int], _Cell] = {}
        draws: list[tuple[str, int, float, float, float]] = []
        times: dict[str, list[float]] = {}
        for camp_id, h in sorted({(objects.adsets[sid]["campaign_id"], h) for sid, h in missing}):
            siblings = objects.adsets_of.get(camp_id, [])
            if camp_id not in times:
                ads = (a["id"] for s in siblings for a in objects.ads_of.get(s["id"], []))
                scheduled = [t for oid in (camp_id, *(s["id"] for s in siblings))
                             for k in ("start_time", "end_time", "stop_time")
                             if (t := objects.extras.get(oid, {}).get(k)) is not None]
                times[camp_id] = sorted({*tl.change_times([camp_id, *(s["id"] for s in siblings), *ads]), *scheduled})
            alloc = self._allocate(objects.campaigns[camp_id], siblings, objects.ads_of, tl, times[camp_id], h,
                                   objects.extras)
            for sid, (cents, weighted) in alloc.items():
                if cents > 0:
                    draws.append((sid, h, cents, weighted, cpm))
                else:
                    computed[(sid, h)] = _NOTHING
        for (sid, h, *_), cell in zip(draws, self._draw(draws)):
            computed[(sid, h)] = cell
        with self._cells_lock:
            self._cells.update(computed)
        out.update({key: computed[key] for key in missing})
        return out

    # ------------------------------------------------------------------------------- objects

    # ------------------------------------------------------------------------------------ insights
    def insights(self, account: str, since: date, until: date, *, hourly: bool, daily: bool, level: str = "adset",
                 adsets: Callable[[Mapping[str, Any]], bool] | None = None,
                 as_of: datetime | None = None) -> tuple[int, Callable[[int], dict[str, Any]]]:
        """Insight rows of the account's ad sets (those `adsets` keeps, all when None) over [since, until] up to
        the last hour completed at `as_of` (now when None), one row per unit of `level` (account, campaign,
        adset, ad) and period (and hour of day with `hourly`): how many, and a function that builds row i (only
        a page's rows are built). Rows without delivery are left out (as on Meta)."""
        now = as_of or self.clock.now()
        start = int(datetime.combine(since, datetime.min.time(), UTC).timestamp()) // 3600
        end = min(int(datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC).timestamp()) // 3600,
                  int(now.timestamp()) // 3600)
        objs = self.objects(account)
        kept = {sid: s for sid, s in objs.adsets.items() if adsets is None or adsets(s)}
        wanted = {sid: range(max(start, int(s["created_s"]) // 3600), end) for sid, s in kept.items()}
        cells = self.hourly(account, {k: v for k, v in wanted.items() if len(v)}, objects=objs)
        groups: dict[tuple[Any, ...], list[_Cell]] = {}
        for (sid, h), cell in cells.items():
            if cell.impressions == 0 and cell.spend_cents == 0:
                continue
            day = date.fromordinal(_EPOCH_ORDINAL + h // 24)
            period = (day, day) if daily else (since, until)
            key = (period, h % 24 if hourly else -1, *_unit(level, objs, objs.adsets[sid]))
            groups.setdefault(key, []).append(cell)
        keys = sorted(groups)

        def row(i: int) -> dict[str, Any]:
            period, hod, _, kind, uid = key = keys[i]
            return _insight_row(account, objs, kind, uid, period, hod if hourly else None, groups[key])

        return len(keys), row

    # --------------------------------------------------------------------------------------- truth
    def truth(self) -> dict[str, Any]:
        """True rates, CPM and spend to date of every ad set (evaluation code only)."""
        now_h = int(self.clock.now().timestamp()) // 3600
        items = []
        for acc in self.state.ads_accounts():
            objs = self.objects(acc)
            cpm = self.account_cpm(acc)
            wanted = {sid: range(int(s["created_s"]) // 3600, now_h) for sid, s in objs.adsets.items()}
            totals: dict[str, list[int]] = {}
            for (sid, _), c in self.hourly(acc, wanted, objects=objs).items():
                t = totals.setdefault(sid, [0, 0])
                t[0] += c.spend_cents
                t[1] += c.impressions
            for sid, s in objs.adsets.items():
                ads = objs.ads_of.get(sid, [])
                mults = [self._ad_multiplier(a) for a in ads]
                mult = sum(mults) / len(mults) if mults else 0.0
                camp = objs.campaigns[s["campaign_id"]]
                items.append({
                    "adset_id": sid, "name": s["name"], "account_id": acc, "campaign_id": s["campaign_id"],
                    "platform": objs.extras.get(sid, {}).get("platform", "meta"),  # tiktok_ads.py tags its ad groups
                    "budget_mode": "CBO" if camp["daily_budget"] is not None else "ABO",
                    "variant_id": next((v for v in (utm_content(a) for a in ads) if v), None),
                    "post_ids": [a["creative"]["object_story_id"] for a in ads],
                    "multiplier": mult,
                    "rates": {a: BASE_RATES[a] * mult for a in ACTION_TYPES},  # events per impression
                    "cpm": cpm,
                    "spend_to_date": totals.get(sid, [0, 0])[0] / 100.0,
                    "impressions_to_date": totals.get(sid, [0, 0])[1],
                })
        return {"items": items, "base_rates": BASE_RATES, "base_cpm": BASE_CPM, "mean_er": self.mean_er()}


def _scheduled(extra: Mapping[str, Any] | None, t: float) -> bool:
    """Whether time t is inside an object's schedule [start_time, end_time or stop_time)."""
    if not extra:
        return True
    start, end = extra.get("start_time"), extra.get("end_time", extra.get("stop_time"))
    return (start is None or t >= start) and (end is None or t < end)


def _unit(level: str, objs: Objects, adset: Mapping[str, Any]) -> tuple[int, str, str]:
    """(sort key, kind, id) of the unit of `level` an ad set's delivery counts towards."""
    if level == "account":
        return 0, "account", ""
    if level == "campaign":
        camp = objs.campaigns[adset["campaign_id"]]
        return camp["seq"], "campaign", camp["id"]
    if level == "ad":
        ads = objs.ads_of.get(adset["id"], [])
        if len(ads) != 1:
            raise invalid(f"level=ad: ad set {adset['id']} has {len(ads)} ads; the sandbox reports ad-level "
                          "insights only for ad sets with one ad (its world delivers per ad set)", field="level")
        return ads[0]["seq"], "ad", ads[0]["id"]
    return adset["seq"], "adset", adset["id"]


def _insight_row(account: str, objs: Objects, kind: str, uid: str, period: tuple[date, date],
                 hour_of_day: int | None, group: list[_Cell]) -> dict[str, Any]:
    """One insights row in Meta's shape, every field the sandbox computes (the route picks the asked ones):
    money as dollar strings, counts as digit strings, ThruPlays in `video_thruplay_watched_actions`."""
    out: dict[str, Any] = {"account_id": account, "account_name": f"Sandbox account {account}",
                           "account_currency": "USD"}
    ad = objs.ads.get(uid) if kind == "ad" else None
    adset = objs.adsets.get(ad["adset_id"] if ad else uid) if kind in ("ad", "adset") else None
    camp = objs.campaigns.get(adset["campaign_id"] if adset else uid) if kind != "account" else None
    if camp is not None:
        out.update(campaign_id=camp["id"], campaign_name=camp["name"], objective=camp["objective"])
    if adset is not None:
        out.update(adset_id=adset["id"], adset_name=adset["name"])
    if ad is not None:
        out.update(ad_id=ad["id"], ad_name=ad["name"])
    out.update(date_start=period[0].isoformat(), date_stop=period[1].isoformat())
    if hour_of_day is not None:
        out[HOURLY] = f"{hour_of_day:02d}:00:00 - {hour_of_day:02d}:59:59"
    spend = sum(c.spend_cents for c in group)
    impressions = sum(c.impressions for c in group)
    clicks = sum(c.clicks for c in group)
    counts = dict(zip(ACTION_TYPES, (sum(c.actions[j] for c in group) for j in range(len(ACTION_TYPES)))))
    dollars = spend / 100
    out.update(spend=f"{dollars:.2f}", impressions=str(impressions), clicks=str(clicks),
               cpm=f"{dollars / impressions * 1000:.6f}" if impressions else "0",
               ctr=f"{clicks / impressions * 100:.6f}" if impressions else "0",
               cpc=f"{dollars / clicks:.6f}" if clicks else "0",
               inline_link_clicks=str(counts["link_click"]))
    actions = [{"action_type": a, "value": str(v)} for a, v in counts.items() if v and a != "thruplay"]
    if actions:
        out["actions"] = actions
        out["cost_per_action_type"] = [{"action_type": a["action_type"], "value": f"{dollars / int(a['value']):.6f}"}
                                       for a in actions]
    if counts["thruplay"]:  # Meta: a list with one video_view entry; left out when there were none
        out["video_thruplay_watched_actions"] = [{"action_type": "video_view", "value": str(counts["thruplay"])}]
        out["cost_per_thruplay"] = [{"action_type": "video_view", "value": f"{dollars / counts['thruplay']:.6f}"}]
    return out
