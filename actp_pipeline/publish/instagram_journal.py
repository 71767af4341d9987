"""Where an Instagram container id is written the moment the container is created, under ACTP's
idempotency key, so that a retry publishes that same container instead of making a second reel
(publish/instagram_lookup.py says how the journal and the caption marker share that work); and the
shortcode -> media id mapping of reels known by their link's shortcode (posts made through a browser),
so each is looked up among the user's media once. SQLite, so both survive a restart; in memory when no
path is given."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

from actp_pipeline.publish.instagram_api import iso_utc


def caption_sha(caption: str) -> str:
    return hashlib.sha256(caption.encode("utf-8")).hexdigest()


class ContainerJournal:
    """ACTP idempotency key -> Instagram container id (its caption's hash, and its media id once known)."""

    def __init__(self, path: Path | str | None = None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False,
                                     isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS instagram_containers (idempotency_key TEXT PRIMARY KEY, container_id "
                "TEXT NOT NULL, caption_sha TEXT NOT NULL, media_id TEXT, created_at TEXT NOT NULL)")
            # a reel's shortcode (its link's id: what a browser-made post is known by) -> its IG media id
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS instagram_shortcodes (ig_user_id TEXT NOT NULL, shortcode TEXT NOT NULL, "
                "media_id TEXT NOT NULL, PRIMARY KEY (ig_user_id, shortcode))")

    def remember(self, key: str, container_id: str, caption: str, created_at: dt.datetime) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO instagram_containers VALUES (?,?,?,NULL,?) ON CONFLICT(idempotency_key) DO UPDATE SET "
                "container_id = excluded.container_id, caption_sha = excluded.caption_sha, media_id = NULL, "
                "created_at = excluded.created_at", (key, container_id, caption_sha(caption), iso_utc(created_at)))

    def recall(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT container_id, caption_sha, media_id, created_at FROM "
                                     "instagram_containers WHERE idempotency_key = ?", (key,)).fetchone()
        return dict(zip(("container_id", "caption_sha", "media_id", "created_at"), row)) if row else None

    def set_media(self, container_id: str, media_id: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE instagram_containers SET media_id = ? WHERE container_id = ?",
                               (media_id, container_id))

    def forget(self, key: str, container_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM instagram_containers WHERE idempotency_key = ? AND container_id = ?",
                               (key, container_id))

    def remember_shortcodes(self, ig_user_id: str, pairs: dict[str, str]) -> None:
        """Shortcode -> media id of the user's reels (a reel keeps both for life)."""
        if not pairs:
            return
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO instagram_shortcodes VALUES (?,?,?)",
                                   [(ig_user_id, code, media) for code, media in pairs.items()])

    def media_of_shortcodes(self, ig_user_id: str, shortcodes: list[str]) -> dict[str, str]:
        """The media ids of those shortcodes this journal knows (for that user)."""
        out: dict[str, str] = {}
        with self._lock:
            for code in dict.fromkeys(shortcodes):
                row = self._conn.execute("SELECT media_id FROM instagram_shortcodes WHERE ig_user_id = ? AND "
                                         "shortcode = ?", (ig_user_id, code)).fetchone()
                if row:
                    out[code] = row[0]
        return out

    def close(self) -> None:
        with self._lock:
            self._conn.close()
