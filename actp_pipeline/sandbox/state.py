"""What the sandbox remembers: uploaded media, posts (with their idempotency keys), the clock offset,
the web upload site's login sessions (by the SHA-256 of their cookie token, never the token itself) and
the ads world (ad accounts, campaigns, ad sets, ads and the change log their insights are computed from).

One SQLite connection guarded by a lock; a file in WAL mode when a path is given (it survives a
restart with the same path and seed), else an in-memory database. Uploaded video files live in a
directory next to the state file (`<state file>.media/`); in memory mode only their metadata is kept.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    media_id    TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    duration_s  REAL NOT NULL,
    width       INTEGER,
    height      INTEGER,
    container   TEXT,
    descriptor  TEXT,
    descriptor_error TEXT,
    path        TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id         TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    media_id        TEXT NOT NULL REFERENCES media(media_id),
    platform        TEXT NOT NULL,
    account         TEXT NOT NULL,
    caption         TEXT NOT NULL,
    hashtags        TEXT NOT NULL,
    scheduled_at    TEXT,
    live_at         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    url             TEXT NOT NULL,
    create_calls    INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_sha256 TEXT PRIMARY KEY,
    username     TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ads_accounts (
    account_id   TEXT PRIMARY KEY,
    created_s    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ads_campaigns (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    objective    TEXT NOT NULL,
    status       TEXT NOT NULL,
    daily_budget INTEGER,
    created_s    REAL NOT NULL,
    updated_s    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ads_campaigns_account ON ads_campaigns(account_id, seq);
CREATE TABLE IF NOT EXISTS ads_adsets (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    account_id        TEXT NOT NULL,
    campaign_id       TEXT NOT NULL,
    name              TEXT NOT NULL,
    status            TEXT NOT NULL,
    daily_budget      INTEGER,
    targeting         TEXT,
    optimization_goal TEXT NOT NULL,
    billing_event     TEXT NOT NULL,
    source_adset_id   TEXT,
    created_s         REAL NOT NULL,
    updated_s         REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ads_adsets_account ON ads_adsets(account_id, seq);
CREATE TABLE IF NOT EXISTS ads_ads (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    adset_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    creative     TEXT NOT NULL,
    created_s    REAL NOT NULL,
    updated_s    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ads_ads_account ON ads_ads(account_id, seq);
-- every create, status, budget and name change with its simulated time (epoch seconds and ISO 8601)
CREATE TABLE IF NOT EXISTS ads_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    value        TEXT,
    at_s         REAL NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ads_changes_account ON ads_changes(account_id, seq);
CREATE INDEX IF NOT EXISTS ads_changes_object ON ads_changes(object_id, field, at_s);
"""

_MEDIA_COLS = ("media_id", "sha256", "bytes", "duration_s", "width", "height", "container", "descriptor",
               "descriptor_error", "path", "created_at")
# the ads tables by object kind, their columns, and the ones holding JSON
ADS_TABLES = {"campaign": "ads_campaigns", "adset": "ads_adsets", "ad": "ads_ads"}
_ADS_COLS = {
    "campaign": ("id", "account_id", "name", "objective", "status", "daily_budget", "created_s", "updated_s"),
    "adset": ("id", "account_id", "campaign_id", "name", "status", "daily_budget", "targeting", "optimization_goal",
              "billing_event", "source_adset_id", "created_s", "updated_s"),
    "ad": ("id", "account_id", "campaign_id", "adset_id", "name", "status", "creative", "created_s", "updated_s"),
}
_ADS_JSON = ("targeting", "creative")
_ADS_UPDATABLE = frozenset({"name", "status", "daily_budget"})
_POST_COLS = ("post_id", "idempotency_key", "media_id", "platform", "account", "caption", "hashtags",
              "scheduled_at", "live_at", "created_at", "url", "create_calls")


class SeedMismatch(RuntimeError):
    """The state file was written by a world with another seed."""


class SandboxState:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.media_dir: Path | None = self.path.with_name(self.path.name + ".media")
            self.media_dir.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        else:
            self.media_dir = None
            self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.executescript(SCHEMA)
        self._closed = False

    # ------------------------------------------------------------------------------------- meta
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row["value"]

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, str(value)),
            )

    def setdefault_meta(self, key: str, value: str) -> str:
        """The stored value, storing `value` first if there is none."""
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))
            return self.get_meta(key)  # type: ignore[return-value]

    def increment_meta(self, key: str, by: int = 1) -> int:
        """Add `by` to an integer counter kept in meta (0 when absent) and return the new value."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)",
                (key, str(int(by)), int(by)),
            )
            return int(self.get_meta(key))  # type: ignore[arg-type]

    def check_seed(self, seed: int) -> None:
        stored = self.setdefault_meta("seed", str(int(seed)))
        if stored != str(int(seed)):
            raise SeedMismatch(
                f"sandbox state {self.path} belongs to a world with seed {stored}, not {seed}; "
                "use another state path or the same seed"
            )

    # ------------------------------------------------------------------------------------ media
    def put_media(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store a media record (first upload of the same bytes wins) and return the stored one."""
        row = dict(record)
        row["descriptor"] = json.dumps(row["descriptor"]) if row.get("descriptor") is not None else None
        with self._lock:
            self._conn.execute(
                f"INSERT OR IGNORE INTO media({', '.join(_MEDIA_COLS)}) VALUES ({', '.join('?' * len(_MEDIA_COLS))})",
                tuple(row.get(c) for c in _MEDIA_COLS),
            )
            return self.get_media(record["media_id"])  # type: ignore[return-value]

    def get_media(self, media_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM media WHERE media_id = ?", (media_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["descriptor"] = json.loads(out["descriptor"]) if out["descriptor"] else None
        return out

    # ------------------------------------------------------------------------------------ posts
    @staticmethod
    def _post_from_row(row: sqlite3.Row) -> dict[str, Any]:
        out = {c: row[c] for c in _POST_COLS}
        out["hashtags"] = json.loads(out["hashtags"])
        return out

    def create_post(self, post: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert the post unless its idempotency key is known; either way count the call.

        Returns (stored post, created). Check and insert happen in one transaction under the lock,
        so concurrent calls with one key create exactly one post.
        """
        key = post["idempotency_key"]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT * FROM posts WHERE idempotency_key = ?", (key,)).fetchone()
                if row is not None:
                    self._conn.execute("UPDATE posts SET create_calls = create_calls + 1 WHERE idempotency_key = ?", (key,))
                    created = False
                else:
                    values = dict(post, hashtags=json.dumps(post["hashtags"]), create_calls=1)
                    self._conn.execute(
                        f"INSERT INTO posts({', '.join(_POST_COLS)}) VALUES ({', '.join('?' * len(_POST_COLS))})",
                        tuple(values[c] for c in _POST_COLS),
                    )
                    created = True
                row = self._conn.execute("SELECT * FROM posts WHERE idempotency_key = ?", (key,)).fetchone()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return self._post_from_row(row), created

    def get_post(self, post_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM posts WHERE post_id = ?", (post_id,)).fetchone()
        return None if row is None else self._post_from_row(row)

    def get_posts(self, post_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(post_ids), 400):
                chunk = post_ids[start : start + 400]
                rows = self._conn.execute(
                    f"SELECT * FROM posts WHERE post_id IN ({', '.join('?' * len(chunk))})", tuple(chunk)
                ).fetchall()
                for row in rows:
                    out[row["post_id"]] = self._post_from_row(row)
        return out

    def get_post_by_key(self, idempotency_key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM posts WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        return None if row is None else self._post_from_row(row)

    def list_posts(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM posts ORDER BY seq").fetchall()
        return [self._post_from_row(r) for r in rows]

    def recent_posts(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM posts ORDER BY seq DESC LIMIT ?", (int(limit),)).fetchall()
        return [self._post_from_row(r) for r in rows]

    # ----------------------------------------------------------------------------- web sessions
    def create_web_session(self, token_sha256: str, username: str, created_at: float, expires_at: float) -> None:
        """Store a session and forget the ones that have expired by `created_at`."""
        with self._lock:
            self._conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (created_at,))
            self._conn.execute(
                "INSERT INTO web_sessions(token_sha256, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_sha256, username, created_at, expires_at),
            )

    def get_web_session(self, token_sha256: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM web_sessions WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return None if row is None else dict(row)

    def delete_web_session(self, token_sha256: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM web_sessions WHERE token_sha256 = ?", (token_sha256,))

    # -------------------------------------------------------------------------------------- ads
    def ads_new_ids(self, n: int) -> list[int]:
        """`n` fresh integers for ads object ids, unique across the sandbox and its restarts."""
        last = self.increment_meta("ads_last_id", n)
        return list(range(last - n + 1, last + 1))

    @staticmethod
    def _ads_from_row(kind: str, row: sqlite3.Row) -> dict[str, Any]:
        out = {c: row[c] for c in _ADS_COLS[kind]}
        out["seq"] = row["seq"]
        for c in _ADS_JSON:
            if c in out:
                out[c] = json.loads(out[c]) if out[c] is not None else None
        return out

    def ads_apply(self, account_id: str, at_s: float, at: str, *,
                  creates: Sequence[tuple[str, dict[str, Any]]] = (),
                  updates: Sequence[tuple[str, str, dict[str, Any]]] = (),
                  changes: Sequence[tuple[str, str, str | None]] = ()) -> None:
        """Write ads objects and their change-log rows in one transaction (all or nothing).

        creates: (kind, full row); updates: (kind, id, {column: value}) for name/status/daily_budget;
        changes: (object_id, field, value) logged at `at_s`. The account is provisioned on first write.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("INSERT OR IGNORE INTO ads_accounts(account_id, created_s) VALUES (?, ?)",
                                   (account_id, at_s))
                for kind, row in creates:
                    cols = _ADS_COLS[kind]
                    values = [json.dumps(row.get(c)) if c in _ADS_JSON and row.get(c) is not None else row.get(c)
                              for c in cols]
                    self._conn.execute(
                        f"INSERT INTO {ADS_TABLES[kind]}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        values,
                    )
                for kind, object_id, fields in updates:
                    bad = set(fields) - _ADS_UPDATABLE
                    if bad:
                        raise ValueError(f"not updatable: {sorted(bad)}")
                    sets = ", ".join(f"{c} = ?" for c in fields)
                    self._conn.execute(f"UPDATE {ADS_TABLES[kind]} SET {sets}, updated_s = ? WHERE id = ?",
                                       (*fields.values(), at_s, object_id))
                self._conn.executemany(
                    "INSERT INTO ads_changes(account_id, object_id, field, value, at_s, at) VALUES (?, ?, ?, ?, ?, ?)",
                    [(account_id, oid, f, v, at_s, at) for oid, f, v in changes],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def ads_get(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        """(kind, object) of a campaign, ad set or ad id; None when unknown."""
        with self._lock:
            for kind, table in ADS_TABLES.items():
                row = self._conn.execute(f"SELECT * FROM {table} WHERE id = ?", (object_id,)).fetchone()
                if row is not None:
                    return kind, self._ads_from_row(kind, row)
        return None

    def ads_list(self, kind: str, account_id: str | None = None) -> list[dict[str, Any]]:
        """Objects of one kind in creation order, of one account (or all when None)."""
        sql = f"SELECT * FROM {ADS_TABLES[kind]}"
        args: tuple[Any, ...] = ()
        if account_id is not None:
            sql, args = sql + " WHERE account_id = ?", (account_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [self._ads_from_row(kind, r) for r in rows]

    def ads_changes(self, account_id: str) -> list[dict[str, Any]]:
        """The account's change log in the order it happened."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT object_id, field, value, at_s FROM ads_changes WHERE account_id = ? ORDER BY at_s, seq",
                (account_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def ads_change_times(self, object_id: str, field: str, since_s: float) -> list[float]:
        """When `field` of one object changed after `since_s` (for the platform's change-rate limits)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT at_s FROM ads_changes WHERE object_id = ? AND field = ? AND at_s > ? ORDER BY at_s",
                (object_id, field, since_s),
            ).fetchall()
        return [r["at_s"] for r in rows]

    def ads_accounts(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT account_id FROM ads_accounts ORDER BY account_id").fetchall()
        return [r["account_id"] for r in rows]

    def latest_created_at(self) -> str | None:
        """When the newest post, media or ads change happened (the simulated time a restarted clock must
        not precede)."""
        with self._lock:
            stamps = [
                row["created_at"]
                for sql in ("SELECT created_at FROM posts ORDER BY seq DESC LIMIT 1",
                            "SELECT created_at FROM media ORDER BY rowid DESC LIMIT 1",
                            "SELECT at AS created_at FROM ads_changes ORDER BY at_s DESC, seq DESC LIMIT 1")
                for row in self._conn.execute(sql).fetchall()
            ]
        return max(stamps, key=lambda s: datetime.fromisoformat(s)) if stamps else None

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
