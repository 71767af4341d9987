"""Execute an approved ads plan (step 8, graduate): `ad_actions`.

Only a stored plan is executed, exactly as a person saw it in `ad_plan`, and only for the accounts that
approved it (or turned `auto_execute` on). An account's plan is refused when it is stale: older than
`max_plan_age_h` on the ad platform's clock, or made before the last action that reached the account
(another execution changed it since, so the plan's cooldowns and caps no longer hold).

Never twice: each action has a key (plan id : sequence) and a row committed as `pending` before the call.
An ambiguous answer (a timeout or a 5xx, after which the platform may have acted) is reconciled at once.
A rerun skips what succeeded; a `pending` row left by a crash is reconciled by looking at the platform
(the object with the action's deterministic name exists, the budget already has its new value, the ad
set is already paused) before anything is sent again. A failed action is not retried within its plan
(the next plan decides again), and actions that depend on it are skipped with the reason.

One executor per plan: an execution claims the plan in the store first (executor_claim: a lease it extends
action by action). A second execution at the same time sends nothing: every account is refused with
"another execution of plan X is running (run R since T)", and its run row (status refused) says so. A
crashed executor's claim is taken over once its lease expired, and its pending rows reconciled.

Multi-step actions (create_ad_set: ad set + its ad; duplicate_ad_set: copy + name/budget/status + its ads)
are reconciled step by step after any error in any step and when a pending row is resumed: what exists is
looked up and the missing steps completed (the ad set's status and budget, its ad ACTIVE when it is)
before the action counts as a success; what cannot be completed is failed with the reason.

One failing action or account does not stop the others; every outcome is in the audit log.

With `ad_links` (a landing page and the hooks service's address) every ad the plan creates carries its
creative's paid tracked link (ads/ad_links.py); without, ads are created as they always were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from actp_pipeline.ads import audit, executor_claim
from actp_pipeline.ads.ad_links import AdLinks, with_links
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import campaign_name
from actp_pipeline.ads.plan.rules import (
    CREATE_AD_SET,
    CREATE_CAMPAIGN,
    DUPLICATE_AD_SET,
    PAUSE_AD_SET,
    REF_ACTIONS,
    REF_KEYS,
    SET_BUDGET,
    PlannedAction,
)
from actp_pipeline.failpoints import failpoint

MAX_PLAN_AGE_H = 6.0
MULTI_STEP = (CREATE_AD_SET, DUPLICATE_AD_SET)
TAKEN, STOPPED = "taken", "stopped"  # recorded by another execution / not sent: this one lost the plan's claim


class Incomplete(Exception):
    """A multi-step action whose missing steps could not be completed on the platform."""


@dataclass
class Execution:
    """What one execution did: per-status counts, the refused accounts and why, the run id."""

    run_id: str | None
    plan_id: str
    counts: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    busy: str | None = None  # set when another execution held the plan: why this one sent nothing

    def add(self, status: str, a: PlannedAction, seq: int, **extra) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.results.append({"seq": seq, "account_id": a.account_id, "goal": a.goal, "action": a.action,
                             "rule": a.rule, "variant_id": a.variant_id, "status": status, **extra})


def object_name(a: PlannedAction, plan_id: str, seq: int) -> str:
    """The deterministic name of the object an action creates: how a crash is reconciled (find by name)."""
    tag = f"{plan_id[-8:]}.{seq}"
    if a.action == CREATE_CAMPAIGN:
        return f"{campaign_name(a.goal, a.params.get('kind'))} | {tag}"
    kind = "scaling" if a.action == DUPLICATE_AD_SET else "learning"
    return f"ACTP | {a.goal} | {kind} | {a.variant_id} | {tag}"


def refusals(engine: Engine, plan: Mapping, accounts: set[str], approved: Mapping[str, str], now: dt.datetime,
             max_plan_age_h: float = MAX_PLAN_AGE_H) -> dict[str, str]:
    """Why each account of the plan may not execute it now (absent = it may)."""
    out = {}
    age_h = (now - plan["as_of"]).total_seconds() / 3600
    for acc in sorted(accounts):
        if acc not in approved:
            out[acc] = (f"not approved: run `actp ads approve {plan['plan_id']} --account {acc}` "
                        "or turn auto_execute on for the account")
        elif age_h > max_plan_age_h:
            out[acc] = f"plan is stale: made {age_h:.1f} h ago (limit {max_plan_age_h:g} h); plan again"
        else:
            last = audit.reached_since(engine, acc, plan["started_at"], other_than_plan=plan["plan_id"])
            if last is not None:
                out[acc] = (f"plan is stale: another plan's actions reached the account (at {last.isoformat()}) "
                            f"after this plan was made; plan again")
    return out


def execute_plan(engine: Engine, client: AdsClient, plan_id: str, *, now: dt.datetime, approved: Mapping[str, str],
                 post_for_variant: Callable[[str], str | None], trigger: str = "dagster",
                 dagster_run_id: str | None = None, max_plan_age_h: float = MAX_PLAN_AGE_H,
                 lease_s: float = executor_claim.LEASE_S, ad_links: AdLinks | None = None) -> Execution:
    """Execute the approved accounts' actions of a stored plan against `client` (one executor per plan);
    with `ad_links`, each ad it creates sends its clicks through the creative's paid tracked link."""
    client = with_links(client, ad_links, engine, now)
    plan = audit.plan_run(engine, plan_id)
    if plan is None:
        raise ValueError(f"no stored plan {plan_id!r}")
    steps = [(seq, a) for seq, a in audit.plan_actions(engine, plan_id) if a.executable]
    accounts = {a.account_id for _, a in steps}
    refused = refusals(engine, plan, accounts, approved, now, max_plan_age_h)
    todo = [(seq, a) for seq, a in steps if a.account_id not in refused]
    if not todo:
        return Execution(None, plan_id, refused=refused)
    run_id = audit.new_id("exec", now)
    held = executor_claim.claim(engine, plan_id, run_id, lease_s)
    if held is not None:
        why = held.reason(plan_id)
        audit.refused_run(engine, run_id, plan_id, accounts, why, as_of=now, trigger=trigger,
                          dagster_run_id=dagster_run_id)
        return Execution(run_id, plan_id, refused={acc: refused.get(acc, why) for acc in sorted(accounts)}, busy=why)
    try:
        audit.start_run(engine, plan_id, {a.account_id for _, a in todo}, as_of=now, trigger=trigger,
                        dagster_run_id=dagster_run_id, run_id=run_id)
        out = Execution(run_id, plan_id, refused=refused)
        _Run(engine, client, plan_id, run_id, now, post_for_variant, out).all(todo, lease_s)
        ok, bad = out.counts.get(audit.SUCCESS, 0), len(out.failures)
        status = "success" if not bad else ("partial" if ok else "failed")
        audit.finish_run(engine, run_id, status, {**out.counts, "refused": out.refused}, bad)
    finally:
        executor_claim.release(engine, plan_id, run_id)
    return out


@dataclass
class _Run:
    """One execution of a plan, action by action: each keyed, recorded before its call, never sent twice."""

    engine: Engine
    client: AdsClient
    plan_id: str
    run_id: str
    now: dt.datetime
    post_for_variant: Callable[[str], str | None]
    out: Execution
    made: dict[str, str] = field(default_factory=dict)  # placeholder id -> real id of what an action created

    def all(self, todo: list[tuple[int, PlannedAction]], lease_s: float) -> None:
        """Every action in order, the plan's lease extended before each; a lost claim stops the sending."""
        prior_rows = audit.executed(self.engine, self.plan_id)
        for i, (seq, a) in enumerate(todo):
            if not executor_claim.extend(self.engine, self.plan_id, self.run_id, lease_s):
                why = (f"stopped before action {seq}: this execution's claim on plan {self.plan_id} expired and "
                       f"another execution took it over; the rest is left to it")
                self.out.failures.append(why)
                for later, b in todo[i:]:
                    self.out.add(STOPPED, b, later, error=why)
                return
            self.step(seq, a, prior_rows.get(f"{self.plan_id}:{seq}"))

    def step(self, seq: int, a: PlannedAction, prior: Mapping | None) -> None:
        """Execute one action, given its row from an earlier attempt of this plan (None = first attempt)."""
        if prior is not None and prior["status"] != audit.PENDING:  # done, failed or skipped: never again
            if prior["status"] == audit.SUCCESS and a.creates:
                self.made[a.creates] = prior["result_id"]
            self.out.add("already_" + prior["status"], a, seq, result_id=prior["result_id"])
            return
        target, params, missing = _resolve(a, self.made)
        if missing is not None:
            self._skip(seq, a, prior, f"depends on {missing} of this plan, which was not created")
            return
        try:
            sent, result, err = self._send(seq, a, target, params, prior)
        except _Taken:
            why = f"action {self.plan_id}:{seq} was recorded by another execution; this one did not send it"
            self.out.failures.append(f"{a.account_id}/{a.goal} {a.action} (seq {seq}): {why}")
            self.out.add(TAKEN, a, seq, error=why)
            return
        key = f"{self.plan_id}:{seq}"
        if not sent:
            audit.end_action(self.engine, key, audit.FAILED, error=err, run_id=self.run_id)
            self.out.failures.append(f"{a.account_id}/{a.goal} {a.action} (seq {seq}): {err}")
            self.out.add(audit.FAILED, a, seq, error=err)
            return
        if a.creates:
            self.made[a.creates] = result
        audit.end_action(self.engine, key, audit.SUCCESS, result_id=result or None, run_id=self.run_id,
                         error=None if err is None else f"recovered after: {err}")
        self.out.add(audit.SUCCESS, a, seq, result_id=result, recovered=prior is not None or err is not None)

    def _skip(self, seq: int, a: PlannedAction, prior: Mapping | None, why: str) -> None:
        if prior is None:
            if not audit.begin_action_once(self.engine, self.run_id, self.plan_id, seq, a, a.target_id, a.params,
                                      self.now, status=audit.SKIPPED, error=why):
                return  # another execution recorded it
        else:
            audit.end_action(self.engine, f"{self.plan_id}:{seq}", audit.SKIPPED, error=why, run_id=self.run_id)
        self.out.add(audit.SKIPPED, a, seq, error=why)

    def _send(self, seq: int, a: PlannedAction, target, params: Mapping, prior: Mapping | None
              ) -> tuple[bool, str | None, str | None]:
        """(whether the action holds on the platform, the created object's id, the error recovered from).

        A pending row (a crash after the row, maybe after the call) is looked up first; an ambiguous error
        (a timeout or a 5xx, after which the platform may have acted) is looked up before it counts as failed,
        and so is any platform error in a multi-step action (its missing steps are completed).
        """
        name = object_name(a, self.plan_id, seq)
        result = None
        try:
            if prior is not None:
                result = _reconcile(self.client, a, target, params, name, self.post_for_variant)
            elif not audit.begin_action_once(self.engine, self.run_id, self.plan_id, seq, a, target, params, self.now):
                raise _Taken()
            failpoint("ad_actions.before_call")
            if result is None:
                result = _call(self.client, a, target, params, name, self.post_for_variant)
            failpoint("ad_actions.after_call")
        except _Taken:
            raise
        except Exception as e:  # noqa: BLE001 - one action's failure is recorded, the others go on
            err = _reason(e)
            if isinstance(e, AdsError) and (e.retryable or a.action in MULTI_STEP):
                result, err = _settle(self.client, a, target, params, name, self.post_for_variant, err)
            return result is not None, result, err
        return True, result, None


RECONCILE_TRIES = 3


def _settle(client: AdsClient, a: PlannedAction, target, params: Mapping, name: str, post_for_variant,
            err: str) -> tuple[str | None, str]:
    """Reconcile after an error, again while completing it meets an ambiguous error of its own (a lost answer
    to the ad create that completes an ad set leaves the ad made): lookups come first, so a repeat never makes
    a second object. What still cannot be completed is paused when it exists (nothing spends that the audit
    log calls failed). Returns (result or None, the error text)."""
    for _ in range(RECONCILE_TRIES):
        try:
            return _reconcile(client, a, target, params, name, post_for_variant), err
        except Exception as again:  # noqa: BLE001 - the lookup or a completing step failed: report it
            err += f"; and completing it after that failed: {_reason(again)}"
            if not (isinstance(again, AdsError) and again.retryable):
                break
    if a.action in MULTI_STEP:
        err += _pause_unfinished(client, a.account_id, name)
    return None, err


def _pause_unfinished(client: AdsClient, account_id: str, name: str) -> str:
    try:
        found = client.find_ad_set(account_id, name)
        if found is None or found.get("status") == "PAUSED":
            return ""
        client.set_status(str(found["id"]), "PAUSED")
        return f"; ad set {found['id']} it left behind was paused (it spends nothing until a new plan decides)"
    except Exception as e:  # noqa: BLE001 - say so: the alert is the error itself
        return f"; pausing what it left behind failed too ({_reason(e)}): check ad set {name!r} by hand"


class _Taken(Exception):
    """The action's key already has a row: another execution recorded it (and may have sent it)."""


def _reason(e: Exception) -> str:
    if isinstance(e, AdsError):
        return f"ads API error {e.code or e.status}: {e.message}"
    if isinstance(e, Incomplete):
        return f"incomplete: {e}"
    return audit.safe_error(f"{type(e).__name__}: {e}") or type(e).__name__


def _resolve(a: PlannedAction, made: Mapping[str, str]):
    """(target id, params, None) with the placeholder ids of objects this plan created replaced by their
    real ids, or (None, params, the placeholder) when one of them was not created."""
    missing = next((r for r in a.refs() if r.startswith("new:") and r not in made), None)
    if missing is not None:
        return None, a.params, missing
    params = {k: made.get(v, v) if k in REF_KEYS and isinstance(v, str) else v for k, v in a.params.items()}
    target = made.get(a.target_id, a.target_id) if a.action in REF_ACTIONS else a.target_id
    return target, params, None


def _call(client: AdsClient, a: PlannedAction, target, params: Mapping, name: str, post_for_variant) -> str | None:
    p = params
    if a.action == CREATE_CAMPAIGN:
        return client.create_campaign(a.account_id, name=name, objective=p["objective"], budget_mode=p["budget_mode"],
                                      daily_budget=p.get("daily_budget"), status=p.get("status", "ACTIVE"))
    if a.action == CREATE_AD_SET:
        post_id = post_for_variant(a.variant_id)
        if post_id is None:
            raise ValueError(f"creative {a.variant_id} has no published post to run as an ad")
        return client.create_ad_set(a.account_id, campaign_id=p["campaign_id"], name=name, variant_id=a.variant_id,
                                    post_id=post_id, daily_budget=p.get("daily_budget"),
                                    status=p.get("status", "ACTIVE"))
    if a.action == DUPLICATE_AD_SET:
        return client.duplicate_ad_set(target, campaign_id=p["campaign_id"], name=name,
                                       daily_budget=p.get("daily_budget"))
    if a.action == SET_BUDGET:
        client.set_budget(target, float(p["new_budget"]))
        return None
    if a.action == PAUSE_AD_SET:
        client.set_status(target, "PAUSED")
        return None
    raise ValueError(f"unknown action {a.action!r}")


def _reconcile(client: AdsClient, a: PlannedAction, target, params: Mapping, name: str, post_for_variant) -> str | None:
    """What a crashed call already did: the created object's id (or "" when a change already holds), else None.
    A multi-step action found on the platform is completed step by step (or Incomplete is raised)."""
    if a.action == CREATE_CAMPAIGN:
        found = client.find_campaign(a.account_id, name)
        return None if found is None else str(found["id"])
    if a.action == CREATE_AD_SET:
        found = client.find_ad_set(a.account_id, name)
        return None if found is None else _finish(client, a, found, params, post_for_variant)
    if a.action == DUPLICATE_AD_SET:
        return _finish_copy(client, a, target, params, name, post_for_variant)
    if a.action == SET_BUDGET:
        cur = client.get(target, ["daily_budget"]).get("daily_budget")
        return "" if cur is not None and round(int(cur)) == round(float(params["new_budget"]) * 100) else None
    if a.action == PAUSE_AD_SET:
        return "" if client.get(target, ["status"]).get("status") == "PAUSED" else None
    return None


def _finish_copy(client: AdsClient, a: PlannedAction, target, params: Mapping, name: str, post_for_variant
                 ) -> str | None:
    """A promotion after an error or a crash: the client's duplicate with resume finds the copy an earlier
    call made (finished, or half-made under its copy name) and completes it, copying only when there is
    none; then the copy is checked and completed here too, step by step."""
    first = None
    try:
        client.duplicate_ad_set(target, campaign_id=params["campaign_id"], name=name,
                                daily_budget=params.get("daily_budget"), status=params.get("status", "ACTIVE"),
                                resume=True)
    except AdsError as e:  # a step failed again: what exists is completed below, or the action fails
        first = e
    found = client.find_ad_set(a.account_id, name)
    if found is None:
        if first is not None:
            raise first
        return None
    return _finish(client, a, found, params, post_for_variant)


def _finish(client: AdsClient, a: PlannedAction, found: Mapping, params: Mapping, post_for_variant) -> str:
    """Complete an ad set an action made: in its campaign, its budget and status as planned, its ad there
    and ACTIVE when the ad set is; returns its id, or raises Incomplete saying what is still wrong."""
    sid = str(found["id"])
    want = str(params.get("status", "ACTIVE")).upper()
    campaign = params.get("campaign_id")
    if campaign and found.get("campaign_id") is not None and str(found["campaign_id"]) != str(campaign):
        raise Incomplete(f"ad set {sid} named for this action is in campaign {found['campaign_id']}, not {campaign}")
    budget = params.get("daily_budget")
    have = found.get("daily_budget")
    if budget is not None and (have is None or have != have or round(float(have), 2) != round(float(budget), 2)):
        client.set_budget(sid, float(budget))
    if found.get("status") != want:
        client.set_status(sid, want)
    ad_id = client.ensure_ad(a.account_id, sid, variant_id=a.variant_id, post_id=post_for_variant(a.variant_id))
    status = client.get(ad_id, ["status"]).get("status")
    if want == "ACTIVE" and status != "ACTIVE":
        try:
            client.set_status(ad_id, "ACTIVE")
        except AdsError as e:
            raise Incomplete(f"ad {ad_id} of ad set {sid} is {status}, it delivers nothing: activating it failed "
                             f"({_reason(e)})") from e
        status = client.get(ad_id, ["status"]).get("status")
        if status != "ACTIVE":
            raise Incomplete(f"ad {ad_id} of ad set {sid} is {status} after activating it; it delivers nothing")
    return sid
