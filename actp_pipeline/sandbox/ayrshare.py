"""Ayrshare's social media API (a posting aggregator) as the sandbox speaks it. Framework-free:
routes/ayrshare.py serves it over HTTP at Ayrshare's own paths (/api/...).

Why: ACTP's aggregator adapter (actp_pipeline/publish/ayrshare.py) speaks Ayrshare's documented REST API
through httpx; pointed at the sandbox (only the base URL differs) it posts into the sandbox's world. Each
network a post goes to becomes an ordinary sandbox post (Publishing.keep_media probes the video like every
upload, Publishing.store_post creates the post once), whose views, likes, comments and shares evolve like
every other post's, and whose analytics are read back through /api/analytics/post.

Where the shape comes from
--------------------------
Ayrshare's API reference (ayrshare.com/docs and its older docs.ayrshare.com edition, as stored in the
"docs" and "pages" corpora consulted when this was written): Quickstart and API overview (Bearer API key,
Profile-Key header), "Post" (POST /post: post, platforms, mediaUrls, isVideo, scheduleDate, notes,
youTubeOptions; response status/errors/postIds/id), "Get a Post" (GET /post/:id), "Delete a Post"
(DELETE /post; Instagram and TikTok cannot delete published posts through their APIs), "Upload Media"
(POST /media/upload, multipart or Base64 data URI, 30 MB, response id/url/fileName/description),
"History" (GET /history: status, lastDays, limit, type, platforms; newest first; deleted posts only with
status=deleted), "History by ID", "Analytics on a Post" (POST /analytics/post with id and platforms,
searchPlatformId for a network's own post id), "HTTP Status Codes" (429: per User Profile a number of
requests per 5-minute window, headers x-ratelimit-max and x-ratelimit-count) and "Ayrshare Error Codes"
(errors carry action/status/code/message; a post with any failed network answers status "error" with the
failed networks in `errors` and the ones that worked in `postIds`, HTTP 400).

Paths (Ayrshare's host is https://api.ayrshare.com; in the sandbox /api sits at the root)
-----------------------------------------------------------------------------------------
  POST   /api/media/upload        multipart/form-data (file, fileName, description) or JSON {"file": "data:
                                  video/mp4;base64,...", fileName, description} -> {id, url, fileName, description}
  POST   /api/post                {post, platforms, mediaUrls, isVideo, scheduleDate, notes, youTubeOptions}
                                  -> {status, errors, postIds: [{status, id, platform, postUrl}], id}
  GET    /api/post/{id}           the post: status, post, platforms, postIds, errors, mediaUrls, scheduleDate,
                                  created, type, notes, refId, profileTitle (also GET /api/history/{id})
  DELETE /api/post                {id} or {bulk: [ids]}
  POST   /api/analytics/post      {id, platforms?, searchPlatformId?} -> {<platform>: {id, postUrl, analytics,
                                  lastUpdated, nextUpdate}, status, id}
  GET    /api/history             ?status=&lastDays=&limit=&type=&platforms[0]=.. -> {history: [...]}

Known differences from real Ayrshare
------------------------------------
- Only tiktok, youtube and instagram (the sandbox world's platforms) can be linked. Every other name in
  Ayrshare's platform list is accepted in `platforms` and refused per network with code 156 ("not linked"),
  as Ayrshare refuses a network the profile has not linked; a name outside the list is a 400 of the call.
- mediaUrls: the sandbox fetches nothing from the web. A media URL is accepted only when its last path
  segment names media the sandbox keeps (the `url` /api/media/upload returned); any other URL fails the
  call with 400. Media are always videos (MP4/MOV as sandbox/media.py probes them); only the first media
  URL becomes the networks' video; isVideo is accepted and not needed. Upload URLs are
  https://media.sandbox.actp.local/ayrshare/<media id>.mp4 and are not served. GET /media/uploadUrl
  (presigned uploads for files over 30 MB) and the media gallery are not served.
- Every sandbox answer that is an error also carries `error: {code, message}` (a copy of the documented
  top-level code and message): the project's route fuzzer (tests/faults/route_fuzz.py) recognises a JSON
  error by an `error` object. A client written to Ayrshare's documents ignores it.
- Error code numbers: 156 (network not linked) is Ayrshare's; the other numbers (AyrshareCodes) are the
  sandbox's own, because Ayrshare's code table was not in the consulted corpus. HTTP statuses, the
  action/status/code/message shape and the errors/postIds split are Ayrshare's.
- Rate limit: AyrsharePolicy.requests_per_window = 300 requests per 300 seconds per profile (the current
  "HTTP Status Codes" page; older editions say 250, 200 or 150), counted on the simulated clock, so a
  rehearsal at speed sees the limit ACTP paces itself by. Every counted answer carries x-ratelimit-max and
  x-ratelimit-count; a refused request (429) is not counted and carries no Retry-After (Ayrshare documents
  none: the window is 5 minutes). Suspension after 1,000 violations a day is not simulated.
- POST /api/post answers synchronously, as Ayrshare does for most networks; the world post of a network
  is created at once. A scheduled post (scheduleDate in the future) answers status "scheduled" without
  postIds; its world posts are created at once with live_at = scheduleDate, and GET /api/post/{id} shows
  status "pending" and no postIds until then, "success" and the postIds after. A scheduleDate in the past
  posts now. Ayrshare's own duplicate-content check, approval workflow, auto-scheduling, auto-hashtags,
  link shortening, first comments and the per-network options other than youTubeOptions.title are not
  simulated (the options are accepted and ignored).
- Per-network checks the sandbox makes (Ayrshare passes on what the networks say): tiktok, youtube and
  instagram need a video; youtube needs youTubeOptions.title (at most 100 characters, no < or >; the
  documented requirement); the post text is at most 2200 characters on tiktok and instagram, 5000 on
  youtube. A failed network gets {action: "post", status: "error", code, message, platform} in `errors`.
- DELETE: a scheduled, still pending post is deleted for every network; a published post is deleted on
  youtube and refused on tiktok and instagram (as documented). A deleted post stays in the sandbox world
  (its sandbox post and its ground truth remain: Publishing has no deletion); Ayrshare shows it only with
  status=deleted, and its analytics answer an error. bulk answers {status, bulk: [per id results]} (with
  code and message when one failed: the sandbox's shape for a documented parameter whose response the
  corpus did not show). deleteAllScheduled and markManualDeleted are not served.
- Scheduled answers: POST /post with a future scheduleDate answers {status: "scheduled", scheduleDate,
  id, post, refId, errors: [], postIds: []}, as remembered from Ayrshare's examples (not in the corpus).
- Analytics: tiktok reports videoViews, likeCount, commentsCount, shareCount, totalTimeWatched,
  averageTimeWatched; youtube views, likes, comments, shares, subscribersGained, estimatedMinutesWatched,
  averageViewDuration (YouTube Analytics metric names); instagram likeCount, commentsCount, sharesCount,
  savedCount, viewsCount. These field names come from Ayrshare's response examples as remembered, not from
  the consulted corpus (its excerpts did not include the example body): the adapter reads each count
  under a list of candidate names and reports None when none is present. lastUpdated is the simulated
  now, nextUpdate ten simulated minutes later; counts are never stale. A post that is still pending
  answers 400.
- History: lastDays counts simulated days back from the simulated now; limit at most 1000; the list is
  newest first by creation; only the `history` member of the answer is served. Profiles' post lists live
  in the state's meta table (they survive a restart with a state file). History of posts made outside
  Ayrshare (/history/:platform) is not served.
- Ids: Ayrshare post ids are 20 characters of [A-Za-z0-9] derived from the seed and a counter; TikTok ids
  are the 19-digit ids the sandbox's TikTok dialect gives the same world post; YouTube and Instagram ids
  are the sandbox's own (a video posted through Ayrshare is not in the YouTube dialect's channel uploads).
- Profile-Keys are accepted with any of the sandbox's API keys (Ayrshare ties them to one account's key);
  there are no profile-management endpoints (/profiles), no /user, no webhooks, no comments.
- WorldConfig.processing_s (real seconds that hold every new sandbox post in "processing") is not shown
  here: Ayrshare's post is "success" at once and its analytics report the world's counts (near 0 then).
- Messages are the sandbox's own wording.

The parts, one job each: ayrshare_rules.py (the policy, codes and error shape, auth and Profile-Keys, the
rate limit, the request checks), ayrshare_records.py (post records and how /post/{id} and /history show
them), ayrshare_posts.py (media, posting, deleting), ayrshare_analytics.py (analytics). `Ayrshare` here is
the domain the routes serve.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from .ayrshare_analytics import AyrshareAnalytics
from .ayrshare_posts import (
    INSTAGRAM_URL,
    MAX_MEDIA_URLS,
    MEDIA_URL,
    NO_API_DELETE,
    YOUTUBE_URL,
    AyrsharePosts,
    media_id_of,
    tiktok_video_id,
)
from .ayrshare_records import HISTORY_DEFAULT_DAYS, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, HISTORY_STATUSES
from .ayrshare_rules import (
    KNOWN_PLATFORMS,
    MAX_NOTES,
    MAX_POST_TEXT,
    NAMES,
    TEXT_LIMITS,
    VIDEO_PLATFORMS,
    YOUTUBE_TITLE_MAX,
    AyrshareCodes,
    AyrshareError,
    AyrsharePolicy,
    Profile,
    _Window,
    bad,
    from_api_error,
)
from .publishing import Publishing

__all__ = [
    "HISTORY_DEFAULT_DAYS", "HISTORY_DEFAULT_LIMIT", "HISTORY_MAX_LIMIT", "HISTORY_STATUSES", "INSTAGRAM_URL",
    "KNOWN_PLATFORMS", "MAX_MEDIA_URLS", "MAX_NOTES", "MAX_POST_TEXT", "MEDIA_URL", "NAMES", "NO_API_DELETE",
    "TEXT_LIMITS", "VIDEO_PLATFORMS", "YOUTUBE_TITLE_MAX", "YOUTUBE_URL", "Ayrshare", "AyrshareCodes",
    "AyrshareError", "AyrsharePolicy", "Profile", "bad", "from_api_error", "media_id_of", "sha256_file",
    "tiktok_video_id",
]


class Ayrshare(AyrsharePosts, AyrshareAnalytics):
    """Profiles, media uploads, posts to several networks, history, deletion and analytics."""

    def __init__(self, publishing: Publishing, api_keys: tuple[str, ...], policy: AyrsharePolicy | None = None):
        self.publishing = publishing
        self.state = publishing.state
        self.clock = publishing.clock
        self.config = publishing.config
        self.policy = policy or AyrsharePolicy()
        self._keys = tuple(k.encode("utf-8", "surrogateescape") for k in api_keys)
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
