"""A promotion on Meta: an ad set copied into another campaign step by step, findable after a lost answer.

Why: Meta's POST /{ad_set_id}/copies takes no name or budget, and its answer can be lost after the copy
was made (a timeout, a 5xx); a retry that copies again leaves an orphan "<source> - Copy" per attempt.
So the copy is made PAUSED (ad set and ads) under a deterministic name from the start: `rename_options`
ONLY_TOP_LEVEL_RENAME with the suffix " [copy -> <final name>]" (the ads keep their names). Then it is
named, budgeted and set to its status in one update, and its ads are activated with it.

After a lost copy answer the copy is looked up by that name in the target campaign, never copied again.
A call with `resume` (after an error or a crash) first looks for what an earlier call made for the final
name (an ad set carrying it, or a half-made copy under its copy name) and completes it; it copies only
when there is none. Before returning, the copy is read back (name, status, budget, and each ad ACTIVE
when the copy is): an incomplete copy raises AdsError, never a success with a paused ad.
"""

from __future__ import annotations

from typing import Any, Callable

from actp_pipeline.ads.errors import AdsError

COPY_SUFFIX = " [copy -> {name}]"
RENAME = "ONLY_TOP_LEVEL_RENAME"


def copy_name(source_name: str, name: str) -> str:
    """The name Meta gives a copy of `source_name` made for the final name `name` (the rename suffix)."""
    return f"{source_name}{COPY_SUFFIX.format(name=name)}"


def _age(row: dict[str, Any]) -> tuple:
    return (row.get("status") != "ACTIVE", str(row.get("created_time") or ""), int(row["id"]) if
            str(row["id"]).isdigit() else 0)


class AdSetCopies:
    """The copy steps of MetaAdsClient (a mixin: it uses the client's _call, _paged, get and set_status)."""

    _call: Callable[..., dict[str, Any]]
    _paged: Callable[..., Any]
    _ads: Callable[..., list[dict[str, Any]]]
    get: Callable[..., dict[str, Any]]
    set_status: Callable[..., None]

    def _promote(self, source_id: str, campaign_id: str, name: str, minor: str | None, status: str,
                 check: Callable[..., str], resume: bool) -> str:
        copy_id = self._made_before(source_id, campaign_id, name, check) if resume else None
        if copy_id is None:
            copy_id = self._copy(source_id, campaign_id, name, minor, check)
        self._complete(copy_id, name, minor, status, check)
        return copy_id

    def _made_before(self, source_id: str, campaign_id: str, name: str, check: Callable[..., str],
                     finished: bool = True) -> str | None:
        """The copy an earlier call made for `name` in the campaign: named `name` (when `finished` may be
        looked for), else still under its copy name; None when there is none."""
        src = self.get(source_id, ["name", "account_id"])
        account = check(str(src.get("account_id") or "").removeprefix("act_"), "account_id")
        found = self._named_copy(account, campaign_id, name) if finished else None
        return found or self._named_copy(account, campaign_id, copy_name(str(src.get("name") or ""), name))

    def _named_copy(self, account: str, campaign_id: str, name: str) -> str | None:
        """The id of the ad set named exactly `name` in the campaign (an ACTIVE one first, then the oldest)."""
        filtering = [{"field": "name", "operator": "EQUAL", "value": name},
                     {"field": "campaign.id", "operator": "EQUAL", "value": campaign_id}]
        rows = [r for r in self._paged(f"/act_{account}/adsets", {"fields": "id,name,campaign_id,status,created_time",
                                                                  "filtering": filtering})
                if r.get("name") == name and str(r.get("campaign_id")) == campaign_id]
        return str(min(rows, key=_age)["id"]) if rows else None

    def _copy(self, source_id: str, campaign_id: str, name: str, minor: str | None,
              check: Callable[..., str]) -> str:
        """POST /copies (PAUSED, under the copy name); a lost answer is looked up by that name, not retried."""
        data: dict[str, Any] = {"campaign_id": campaign_id, "deep_copy": True, "status_option": "PAUSED",
                                "rename_options": {"rename_strategy": RENAME,
                                                   "rename_suffix": COPY_SUFFIX.format(name=name)}}
        if minor is not None:
            data["daily_budget"] = minor  # the sandbox takes it on the copy (an ABO target without a source budget)
        try:
            copied = self._call("POST", f"/{source_id}/copies", data=data)
        except AdsError as e:
            if not e.retryable:
                raise
            found = self._made_before(source_id, campaign_id, name, check, finished=False)
            if found is None:
                e.add_note(f"no copy of {source_id} for {name!r} in campaign {campaign_id}: it was not made")
                raise
            return found
        return check(str(copied["copied_adset_id"]), "copied_adset_id")

    def _complete(self, copy_id: str, name: str, minor: str | None, status: str, check: Callable[..., str]) -> None:
        """Name, budget and status (what differs, in one update), then the ads; then read it all back."""
        want: dict[str, Any] = {"name": name, "status": status}
        if minor is not None:
            want["daily_budget"] = minor
        cur = self.get(copy_id, [*want, "account_id"])
        account = check(str(cur.get("account_id") or "").removeprefix("act_"), "account_id")
        changed = {k: v for k, v in want.items() if str(cur.get(k)) != str(v)}
        if changed:
            self._call("POST", f"/{copy_id}", data=changed)
        ads = self._copy_ads(account, copy_id)
        if status == "ACTIVE":
            for ad in ads:
                if ad.get("status") != "ACTIVE":
                    self._activate(copy_id, ad)
        self._verify(account, copy_id, want)

    def _activate(self, copy_id: str, ad: dict[str, Any]) -> None:
        try:
            self.set_status(str(ad["id"]), "ACTIVE")
        except AdsError as e:
            raise AdsError(f"ad {ad['id']} of copy {copy_id} is {ad.get('status')}, it delivers nothing: activating "
                           f"it failed: {e.message}", status=e.status, code=e.code, subcode=e.subcode,
                           retryable=e.retryable, fbtrace_id=e.fbtrace_id, where=f"POST /{ad['id']}") from e

    def _copy_ads(self, account: str, copy_id: str) -> list[dict[str, Any]]:
        return self._ads(account, [{"field": "adset.id", "operator": "EQUAL", "value": copy_id}])

    def _verify(self, account: str, copy_id: str, want: dict[str, Any]) -> None:
        cur = self.get(copy_id, list(want))
        wrong = [f"{k} is {cur.get(k)!r}, not {v!r}" for k, v in want.items() if str(cur.get(k)) != str(v)]
        ads = self._copy_ads(account, copy_id)
        if not ads:
            wrong.append("it has no ads")
        if want["status"] == "ACTIVE":
            wrong += [f"its ad {ad['id']} is {ad.get('status')}" for ad in ads if ad.get("status") != "ACTIVE"]
        if wrong:
            raise AdsError(f"copy {copy_id} is incomplete: " + "; ".join(wrong), where=f"POST /{copy_id}")
