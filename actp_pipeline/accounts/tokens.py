"""Per-account OAuth tokens in the operational store (table account_tokens), encrypted with TokenCipher.

`get_token(engine, platform, account)` is what a caller asks each time it needs a token: the stored access
token, refreshed first when it expires within the platform's margin. A refresh is claimed first (one
conditional UPDATE sets refresh_claim under a lease timed by the database's clock, as the queues claim
work: DESIGN section 4), so of two workers only one spends the refresh token (TikTok rotates it: a second
use would be refused and disconnect the account); the other waits for the new version and reads it. A
refresh the platform refuses marks the account needs_reconnect (an alert-worthy state: `actp accounts
list` shows it, `actp accounts connect` clears it); a platform that cannot be reached leaves the account
as it is, and the old token is served while it is still valid.

No token is ever logged, put in an exception or returned by list_accounts.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.store.clock import now_sql
from actp_pipeline.store.schema import account_tokens as T

from . import oauth
from .crypto import TokenCipher
from .platforms import provider_for_token_url

CONNECTED, NEEDS_RECONNECT, DISCONNECTED = "connected", "needs_reconnect", "disconnected"
LEASE_S = 60.0  # a refresh's claim: longer than the token call's timeout
Clock = Callable[[], dt.datetime]


class NotConnected(LookupError):
    """No tokens for this account: run `actp accounts connect PLATFORM --account NAME`."""


class NeedsReconnect(RuntimeError):
    """The platform refused the refresh (or the token expired with no way to refresh): reconnect."""


class TokenUnavailable(RuntimeError):
    """The token expired and the platform could not be reached to refresh it: try again later."""


@dataclass(frozen=True)
class AccountStatus:
    """What may be shown about an account: never a token."""

    platform: str
    account: str
    status: str
    token_kind: str
    access_expires_at: dt.datetime | None
    refresh_expires_at: dt.datetime | None
    scope: str
    external_id: str | None
    last_error: str | None
    connected_at: dt.datetime
    refreshed_at: dt.datetime | None


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _expiry(now: dt.datetime, seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else now + dt.timedelta(seconds=seconds)


def _key(platform: str, account: str):
    return sa.and_(T.c.platform == platform, T.c.account == account)


def save_tokens(engine: Engine, cipher: TokenCipher, platform: str, account: str, tokens: oauth.TokenSet,
                token_url: str, *, now: Clock = wall_clock) -> AccountStatus:
    """Store freshly granted tokens (a connect): the account is `connected` at a new version."""
    at = _naive_utc(now())
    values = {
        "status": CONNECTED, "token_kind": tokens.kind, "access_token": cipher.encrypt(tokens.access_token),
        "refresh_token": cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
        "access_expires_at": _expiry(at, tokens.expires_in),
        "refresh_expires_at": _expiry(at, tokens.refresh_expires_in), "scope": tokens.scope,
        "external_id": tokens.external_id, "token_url": token_url, "refresh_claim": None,
        "refresh_lease_until": None, "last_error": None, "connected_at": at, "refreshed_at": None, "updated_at": at,
    }
    with engine.begin() as conn:
        done = conn.execute(sa.update(T).where(_key(platform, account))
                            .values(**values, version=T.c.version + 1)).rowcount
        if not done:
            conn.execute(sa.insert(T).values(platform=platform, account=account, version=1, **values))
    return status_of(engine, platform, account)  # type: ignore[return-value]


def _status(row) -> AccountStatus:
    return AccountStatus(row.platform, row.account, row.status, row.token_kind, row.access_expires_at,
                         row.refresh_expires_at, row.scope or "", row.external_id, row.last_error, row.connected_at,
                         row.refreshed_at)


def status_of(engine: Engine, platform: str, account: str) -> AccountStatus | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(T).where(_key(platform, account))).first()
    return None if row is None else _status(row)


def list_accounts(engine: Engine) -> list[AccountStatus]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T).order_by(T.c.platform, T.c.account)).all()
    return [_status(r) for r in rows]


def disconnect(engine: Engine, platform: str, account: str) -> bool:
    """Forget the account's tokens (the row stays, `disconnected`); False when there was none."""
    with engine.begin() as conn:
        return bool(conn.execute(sa.update(T).where(_key(platform, account)).values(
            status=DISCONNECTED, access_token=None, refresh_token=None, refresh_claim=None,
            refresh_lease_until=None, version=T.c.version + 1, updated_at=_naive_utc(wall_clock()))).rowcount)


def mark_needs_reconnect(engine: Engine, platform: str, account: str, reason: str, claim: str | None = None) -> None:
    where = _key(platform, account) if claim is None else sa.and_(_key(platform, account), T.c.refresh_claim == claim)
    with engine.begin() as conn:
        conn.execute(sa.update(T).where(where).values(status=NEEDS_RECONNECT, last_error=reason[:500],
                                                      refresh_claim=None, refresh_lease_until=None,
                                                      updated_at=_naive_utc(wall_clock())))


# ------------------------------------------------------------------------------------------ get_token
def _claim(engine: Engine, platform: str, account: str, version: int) -> str | None:
    """Take the refresh of this version of the tokens (None: another worker holds it, or it changed)."""
    claim = secrets.token_hex(16)
    with engine.begin() as conn:
        d = conn.dialect.name
        free = sa.or_(T.c.refresh_claim.is_(None), T.c.refresh_lease_until < now_sql(d))
        done = conn.execute(sa.update(T).where(_key(platform, account), T.c.version == version,
                                               T.c.status == CONNECTED, free)
                            .values(refresh_claim=claim, refresh_lease_until=now_sql(d, LEASE_S))).rowcount
    return claim if done else None


def _release(engine: Engine, platform: str, account: str, claim: str, error: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(T).where(_key(platform, account), T.c.refresh_claim == claim).values(
            refresh_claim=None, refresh_lease_until=None, last_error=error[:500]))


def _write_refreshed(engine: Engine, cipher: TokenCipher, row, claim: str, tokens: oauth.TokenSet,
                     at: dt.datetime) -> None:
    refresh_token = tokens.refresh_token
    values = {"access_token": cipher.encrypt(tokens.access_token), "access_expires_at": _expiry(at, tokens.expires_in),
              "token_kind": tokens.kind, "refresh_claim": None, "refresh_lease_until": None, "last_error": None,
              "refreshed_at": at, "updated_at": at, "version": T.c.version + 1}
    if refresh_token:  # TikTok rotates it; Google keeps the one it gave at connect
        values["refresh_token"] = cipher.encrypt(refresh_token)
        values["refresh_expires_at"] = _expiry(at, tokens.refresh_expires_in) or row.refresh_expires_at
    if tokens.scope:
        values["scope"] = tokens.scope
    with engine.begin() as conn:
        conn.execute(sa.update(T).where(_key(row.platform, row.account), T.c.refresh_claim == claim).values(**values))


def _refresh(engine: Engine, cipher: TokenCipher, row, claim: str, at: dt.datetime,
             http: httpx.Client | None) -> oauth.TokenSet:
    p = provider_for_token_url(row.platform, row.token_url)
    if row.platform == "meta":  # no refresh token: a still-valid long-lived token is exchanged again
        return oauth.long_lived(p, cipher.decrypt(row.access_token), http)
    return oauth.refresh(p, cipher.decrypt(row.refresh_token), http)


def _can_refresh(row, at: dt.datetime, stale: bool = False) -> bool:
    if row.platform == "meta":  # an exchange needs a token Meta still accepts
        return (row.token_kind == "long_lived" and not stale and row.access_expires_at is not None
                and row.access_expires_at > at)
    if row.refresh_token is None:
        return False
    return row.refresh_expires_at is None or row.refresh_expires_at > at


def get_token(engine: Engine, platform: str, account: str, *, cipher: TokenCipher | None = None,
              now: Clock = wall_clock, margin_s: float | None = None, http: httpx.Client | None = None,
              wait_s: float = 45.0, rejected: str | None = None) -> str:
    """The account's access token, refreshed first when it expires within `margin_s` (the platform's
    margin by default). `now` is the platform's clock (wall time by default; the sandbox's in tests).

    `rejected`: a token the platform just answered 401 to (revoked, or clocks disagree): when it is still
    the stored one it is refreshed now, whatever its expiry says; if another worker already replaced it,
    the new one is returned."""
    from .platforms import MARGIN_S

    cipher = cipher or TokenCipher.from_env()
    margin = dt.timedelta(seconds=MARGIN_S.get(platform, 600.0) if margin_s is None else margin_s)
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as conn:
            row = conn.execute(sa.select(T).where(_key(platform, account))).first()
        if row is None or row.status == DISCONNECTED or row.access_token is None:
            raise NotConnected(f"{platform} account {account!r} is not connected: run `actp accounts connect "
                               f"{platform} --account {account}`")
        if row.status == NEEDS_RECONNECT:
            raise NeedsReconnect(f"{platform} account {account!r} needs reconnecting ({row.last_error or 'refused'}): "
                                 f"run `actp accounts connect {platform} --account {account}`")
        at = _naive_utc(now())
        expires = row.access_expires_at
        current = cipher.decrypt(row.access_token)
        stale = rejected is not None and current == rejected
        if not stale and (expires is None or expires - margin > at):
            return current
        expired = stale or expires is None or expires <= at
        if not _can_refresh(row, at, stale):
            if not expired:
                return current
            mark_needs_reconnect(engine, platform, account, "the token expired and cannot be refreshed")
            continue  # read again: NeedsReconnect
        claim = _claim(engine, platform, account, row.version)
        if claim is None:  # another worker refreshes this version: wait for the next one
            if time.monotonic() > deadline:
                if not expired:
                    return current
                raise TokenUnavailable(f"{platform} account {account!r}: another worker's refresh did not finish")
            time.sleep(0.1)
            continue
        try:
            tokens = _refresh(engine, cipher, row, claim, at, http)
        except oauth.OAuthRefused as exc:
            mark_needs_reconnect(engine, platform, account, str(exc), claim)
            continue
        except oauth.OAuthUnavailable as exc:
            _release(engine, platform, account, claim, str(exc))
            if not expired:
                return current
            raise TokenUnavailable(f"{platform} account {account!r}: the token expired and {exc}") from None
        _write_refreshed(engine, cipher, row, claim, tokens, at)
        return tokens.access_token
