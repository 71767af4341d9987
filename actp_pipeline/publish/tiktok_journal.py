"""Where a TikTok publish id is written the moment video/init answers, under ACTP's idempotency key, so
that `find_post` can still ask TikTok about a publish whose worker died (Direct Post has no idempotency key;
publish/tiktok_lookup.py says how the journal and the title marker share that work). SQLite, so the ids
survive a restart; in memory when no path is given."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path


class PublishJournal:
    """ACTP idempotency key -> TikTok publish id (and its public video id once known), in SQLite."""

    def __init__(self, path: Path | str | None = None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False,
                                     isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS tiktok_publishes (idempotency_key TEXT PRIMARY KEY, publish_id TEXT "
                "NOT NULL, video_size INTEGER NOT NULL, video_id TEXT, created_at TEXT NOT NULL)")
            self._conn.execute("CREATE INDEX IF NOT EXISTS tiktok_publishes_pid ON tiktok_publishes(publish_id)")

    def remember(self, key: str, publish_id: str, video_size: int, at: dt.datetime | None = None) -> None:
        """`at`: when video/init answered, on the platform's clock (its upload URL's lifetime counts from then)."""
        at = at or dt.datetime.now(dt.UTC)
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        with self._lock:
            self._conn.execute(
                "INSERT INTO tiktok_publishes(idempotency_key, publish_id, video_size, created_at) VALUES (?,?,?,?) "
                "ON CONFLICT(idempotency_key) DO UPDATE SET publish_id = excluded.publish_id, "
                "video_size = excluded.video_size, video_id = NULL, created_at = excluded.created_at",
                (key, publish_id, int(video_size), at.astimezone(dt.UTC).isoformat()))

    def recall(self, key: str) -> tuple[str, int, dt.datetime] | None:
        """(publish id, video size, when init answered) of the key's publish, or None."""
        with self._lock:
            row = self._conn.execute("SELECT publish_id, video_size, created_at FROM tiktok_publishes "
                                     "WHERE idempotency_key = ?", (key,)).fetchone()
        if not row:
            return None
        at = dt.datetime.fromisoformat(row[2])
        return row[0], int(row[1]), at if at.tzinfo else at.replace(tzinfo=dt.UTC)

    def forget(self, key: str, publish_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM tiktok_publishes WHERE idempotency_key = ? AND publish_id = ?",
                               (key, publish_id))

    def set_video_id(self, publish_id: str, video_id: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE tiktok_publishes SET video_id = ? WHERE publish_id = ?", (video_id, publish_id))

    def video_id_of(self, publish_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT video_id FROM tiktok_publishes WHERE publish_id = ?",
                                     (publish_id,)).fetchone()
        return row[0] if row and row[0] else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
