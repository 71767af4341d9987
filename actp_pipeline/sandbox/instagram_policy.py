"""The sandbox's Instagram rules: the publishing limit, the Reels' length, the containers' lifetime, the
documented error codes used, and how ids are derived from the seed. Apart from the Graph node dispatch
(sandbox/instagram.py) so that containers, publishing and insights share one source for these numbers, and
a test or a rehearsal can swap the policy (dataclasses.replace) without touching the code.

Sources (the Instagram Platform reference pages in the docs corpus consulted when this was written):
"Content Publishing" guide, "Upload Video to Meta Servers" (resumable uploads), "IG Container",
"IG User Media Publish" (limit: 50 posts in a 24 hour moving period), "IG User Content Publishing Limit"
(example answer {"data": [{"quota_usage": 2, "config": {"quota_total": 50, "quota_duration": 86400}}]}),
"Instagram Media Insights" (views replaces plays/impressions/video_views; absent data is left out, never 0),
"Error Codes" (code 9 / 2207042 over the publishing limit; -2 / 2207020 expired media; 2207026 unsupported
video; 2207052 media fetch failed; 9007 / 2207027 media not ready).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .seeding import derive_hex

PLATFORM = "instagram"
UPLOAD_PATH = "/graph/ig-api-upload"
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_REEL_S = 15 * 60.0  # Reels: 3 seconds to 15 minutes (IG User Media reference)
MIN_REEL_S = 3.0
CONTAINER_TTL_S = 24 * 3600.0  # "containers expire 24 hours after creation" (IG Container: EXPIRED)
STATUS_CODES = ("EXPIRED", "ERROR", "FINISHED", "IN_PROGRESS", "PUBLISHED")
# code / subcode of the documented errors used (Error Codes page)
CODE_LIMIT, SUB_LIMIT = 9, 2207042
CODE_NOT_READY, SUB_NOT_READY = 9007, 2207027
SUB_EXPIRED = 2207020
SUB_UNSUPPORTED_VIDEO = 2207026
SUB_FETCH_FAILED = 2207052
SUB_ALREADY_PUBLISHED = 2207008  # the sandbox's choice (see instagram_publishing.py's docstring)
SUB_CREATE_FAILED = 2207032
_HASHTAG = re.compile(r"#(\w{1,100})")
_MENTION = re.compile(r"@[\w.]{1,30}")
_DIGITS = re.compile(r"^[0-9]{5,20}$")
_MEDIA_ID = re.compile(r"^m_[0-9a-f]{20}$")
# IG media id -> {"post_id": the sandbox post behind it, "owner": the IG user id that owns it}, written by
# InstagramGraph.media_id when it first names a media, read by the ads side (an ad promoting an IG post)
MEDIA_KEY = "ig_media:{id}"


def media_record(state: Any, media_id: Any) -> dict[str, str] | None:
    """The sandbox post and the owner (IG user id) behind an IG media id, as the Instagram side recorded them
    when it named the media (published, listed or read it); None for an id it never named."""
    if not isinstance(media_id, str) or not _DIGITS.match(media_id):
        return None
    raw = state.get_meta(MEDIA_KEY.format(id=media_id))
    return json.loads(raw) if raw else None


@dataclass(frozen=True)
class InstagramPolicy:
    """The sandbox's Instagram rules (see the module docstring for where each number comes from)."""

    quota_total: int = 50
    quota_duration_s: int = 86_400
    in_progress_reads: int = 1  # status reads answered IN_PROGRESS before a container can be FINISHED
    processing_s: float = 0.0  # simulated seconds from the complete video to FINISHED
    container_ttl_s: float = CONTAINER_TTL_S
    min_reel_s: float = MIN_REEL_S
    max_reel_s: float = MAX_REEL_S


def _digits(seed: int, *parts: object, prefix: str, length: int = 17) -> str:
    n = int(derive_hex(seed, *parts, length=15), 16)
    return prefix + str(n % 10 ** (length - len(prefix))).zfill(length - len(prefix))
