"""The per-account call budget of the sandbox's Graph API (Meta's business-use-case rate limit): apart from
the ads objects because it counts calls in real time, whatever the call does, and is shared by every route
on an account's objects (routes/ads.py calls it before the objects are touched).

Rate-limit signals: every call on an account's objects carries `x-business-use-case-usage` ({account:
[{type: ads_management | ads_insights, call_count, total_cputime, total_time,
estimated_time_to_regain_access}]}) and `x-ad-account-usage` (insights also `x-fb-ads-insights-throttle`);
past the account's calls per rolling real hour (AccountUsage, 100,000 by default) the answer is code 80004
(80000 for insights), subcode 2446079, is_transient. (The budget change limit, code 17, is ads_budgets.py's.)
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Callable

from . import clock as real_time
from .graph_errors import ACCOUNT_LIMIT, SUB_ACCOUNT_LIMIT, GraphError

# Meta's business-use-case limit of the ads_management and ads_insights calls of one ad account: at the
# Standard (full) access tier its base is 100,000 calls an hour plus 40 per active ad (Marketing API
# "Rate Limiting"); the sandbox counts calls in a rolling real hour (not simulated time: advancing the
# clock must not clear it) against this base, and a test may lower `AccountUsage.limit`.
DEFAULT_CALL_LIMIT = 100_000
USAGE_WINDOW_S = 3600.0
THROTTLE_CODES = {"ads_management": ACCOUNT_LIMIT, "ads_insights": 80000}  # Meta's codes per use case


class AccountUsage:
    """Calls per (ad account, use case) in the last USAGE_WINDOW_S real seconds: Meta's usage headers and
    its throttle errors (80004 ads_management, 80000 ads_insights)."""

    def __init__(self, limit: int = DEFAULT_CALL_LIMIT, monotonic: Callable[[], float] | None = None):
        self.limit = limit
        self._monotonic = monotonic or real_time.monotonic
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def call(self, account: str, use_case: str = "ads_management") -> dict[str, str]:
        """Count one call of the account; its usage headers, or a throttle GraphError (carrying them) once
        the account has used its hour."""
        now = self._monotonic()
        with self._lock:
            times = self._calls.setdefault((account, use_case), deque())
            while times and times[0] <= now - USAGE_WINDOW_S:
                times.popleft()
            over = len(times) >= self.limit
            if not over:
                times.append(now)
            pct = min(100, math.floor(100 * len(times) / max(1, self.limit)))
            regain_s = (times[0] + USAGE_WINDOW_S - now) if over and times else 0.0
        headers = self.headers(account, use_case, pct, regain_s)
        if over:
            raise GraphError("There have been too many calls to this ad-account. Wait a bit and try again.",
                             code=THROTTLE_CODES.get(use_case, ACCOUNT_LIMIT), subcode=SUB_ACCOUNT_LIMIT,
                             transient=True, headers=headers)
        return headers

    @staticmethod
    def headers(account: str, use_case: str, pct: int, regain_s: float) -> dict[str, str]:
        minutes = math.ceil(regain_s / 60) if regain_s > 0 else 0
        buc = {account: [{"type": use_case, "call_count": pct, "total_cputime": pct // 2, "total_time": pct,
                          "estimated_time_to_regain_access": minutes}]}
        out = {"x-business-use-case-usage": json.dumps(buc, separators=(",", ":")),
               "x-ad-account-usage": json.dumps({"acc_id_util_pct": float(pct), "reset_time_duration": int(regain_s),
                                                 "ads_api_access_tier": "standard_access"}, separators=(",", ":"))}
        if use_case == "ads_insights":
            out["x-fb-ads-insights-throttle"] = json.dumps(
                {"app_id_util_pct": 0, "acc_id_util_pct": pct, "ads_api_access_tier": "standard_access"},
                separators=(",", ":"))
        return out
