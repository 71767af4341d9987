"""What the sandbox remembers: uploaded media, posts (with their idempotency keys), the clock offset and
the web upload site's login sessions (by the SHA-256 of their cookie token, never the token itself).

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
from typing import Any

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
"""

_MEDIA_COLS = ("media_id", "sha256", "bytes", "duration_s", "width", "height", "container", "descriptor",
               "descriptor_error", "path", "created_at")
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

    def latest_created_at(self) -> str | None:
        """created_at of the newest post or media (the simulated time a restarted clock must not precede)."""
        with self._lock:
            stamps = [
                row["created_at"]
                for sql in ("SELECT created_at FROM posts ORDER BY seq DESC LIMIT 1",
                            "SELECT created_at FROM media ORDER BY rowid DESC LIMIT 1")
                for row in self._conn.execute(sql).fetchall()
            ]
        return max(stamps, key=lambda s: datetime.fromisoformat(s)) if stamps else None

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
