"""Where the sandbox's ads objects live and how they are looked up: the base of AdsObjects that every part
of it (reading, creatives, budgets, writes) shares: accounts, ids, the clock, and finding an object of the
right kind and account.

Where things live: campaigns, ad sets and ads in the state's ads tables; what those tables have no column
for (lifetime budgets, start/end times, bid strategies) and the ad creatives, per account, as JSON in the
state's key-value table (ads_world.read_extras / read_creatives), so the state's schema is unchanged.
"""

from __future__ import annotations

from typing import Any

from .ads_world import CREATIVE_OWNER_KEY, Objects
from .clock import SimClock, iso
from .graph import ACCOUNT_RE, ID_BASE
from .graph_errors import SUB_ACCOUNT, invalid, unknown_object
from .state import SandboxState

EDGES = {"campaigns": "campaign", "adsets": "adset", "ads": "ad", "adcreatives": "adcreative"}
GONE = ("ARCHIVED", "DELETED")


class AdsTables:
    """Lookups in the sandbox state's ads tables (AdsObjects sets `state` and `clock`)."""

    state: SandboxState
    clock: SimClock

    def objects(self, account: str) -> Objects:
        return Objects(self.state.ads_list("campaign", account), self.state.ads_list("adset", account),
                       self.state.ads_list("ad", account))

    def _now(self) -> tuple[float, str]:
        now = self.clock.now()
        return now.timestamp(), iso(now)

    def _require(self, object_id: str, kind: str | None = None, account: str | None = None,
                 param: str | None = None) -> dict[str, Any]:
        found = self.state.ads_get(object_id)
        label = {"campaign": "Campaign", "adset": "Ad set", "ad": "Ad"}.get(kind or "", "Object")
        if found is None:
            raise unknown_object(object_id, label)
        got_kind, obj = found
        if kind is not None and got_kind != kind:
            raise invalid(f"{param or 'id'} {object_id} is a {got_kind}, not a {kind}", field=param)
        if account is not None and obj["account_id"] != account:
            raise invalid(f"{label} {object_id} does not belong to account act_{account}", SUB_ACCOUNT, param)
        return obj

    @staticmethod
    def account_id(raw: str) -> str:
        """The bare id of an ad account path component act_<id> (400 when malformed)."""
        if not ACCOUNT_RE.match(raw):
            raise invalid(f"invalid ad account id {raw!r}: use act_<[A-Za-z0-9_-]{{1,64}}>")
        return raw[len("act_"):]

    def account_of(self, object_id: str) -> str | None:
        """The bare account id of an object id (act_<id>, campaign, ad set, ad, creative); None when unknown."""
        if object_id.startswith("act_"):
            return object_id[len("act_"):] if ACCOUNT_RE.match(object_id) else None
        found = self.state.ads_get(object_id)
        if found is not None:
            return found[1]["account_id"]
        return self.state.get_meta(CREATIVE_OWNER_KEY.format(id=object_id))

    def _new_ids(self, n: int) -> list[str]:
        return [str(ID_BASE + i) for i in self.state.ads_new_ids(n)]
