"""Times and dates in the Graph API: Meta's time format, time parameters (ISO 8601 or epoch seconds) and
the period of an insights call (time_range, else date_preset, else last_30d). Apart from the other
parameters because their calendar arithmetic (presets, quarters, weeks) is a job of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .clock import EARLIEST, LATEST
from .graph_errors import invalid
from .graph_params import param_json, param_str


def graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def date_preset(preset: str, today: date) -> tuple[date, date]:
    """(since, until) of Meta's `date_preset` values (the account's time zone is UTC)."""
    p = preset.lower()
    yesterday = today - timedelta(days=1)
    fixed = {"today": (today, today), "yesterday": (yesterday, yesterday),
             "this_month": (today.replace(day=1), today),
             "this_year": (today.replace(month=1, day=1), today),
             "this_week_mon_today": (today - timedelta(days=today.weekday()), today),
             "this_week_sun_today": (today - timedelta(days=(today.weekday() + 1) % 7), today),
             "maximum": (EARLIEST.date(), today), "data_maximum": (EARLIEST.date(), today)}
    if p in fixed:
        return fixed[p]
    m = re.fullmatch(r"last_(3|7|14|28|30|90)d", p)
    if m:
        return today - timedelta(days=int(m.group(1))), yesterday
    if p == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if p == "last_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    if p in ("last_week_mon_sun", "last_week_sun_sat"):
        start = today - timedelta(days=today.weekday() + 7 + (1 if p.endswith("sat") else 0))
        return start, start + timedelta(days=6)
    if p in ("this_quarter", "last_quarter"):
        q0 = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        if p == "this_quarter":
            return q0, today
        end = q0 - timedelta(days=1)
        return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    raise invalid(f"date_preset {preset!r} is not a valid date preset", field="date_preset")


def insights_period(params: Mapping[str, Any], today: date) -> tuple[date, date]:
    """The period of an insights call: time_range, else date_preset, else Meta's default last_30d."""
    raw = param_json(params, "time_range")
    if raw is not None:
        return time_range(raw, today)
    preset = param_str(params, "date_preset", max_len=40)
    return date_preset(preset or "last_30d", today)


def param_time(params: Mapping[str, Any], name: str) -> float | None:
    """A time parameter (ISO 8601 with an offset, or epoch seconds) as epoch seconds; None when absent."""
    value = params.get(name)
    if value is None or value == "" or value == 0 or value == "0":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        ts = float(value)
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value.strip(), re.ASCII):
        ts = float(value.strip())
    elif isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise invalid(f"{name} must be an ISO 8601 time or epoch seconds", field=name) from None
        ts = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    else:
        raise invalid(f"{name} must be an ISO 8601 time or epoch seconds", field=name)
    if not EARLIEST.timestamp() <= ts < LATEST.timestamp():
        raise invalid(f"{name} must be between {EARLIEST.date()} and {LATEST.date()}", field=name)
    return ts


def time_range(raw: Any, today: date) -> tuple[date, date]:
    """(since, until), both inclusive; Meta's default last_30d (30 days up to yesterday) when absent."""
    if raw is None:
        return date_preset("last_30d", today)
    if not isinstance(raw, dict) or "since" not in raw or "until" not in raw:
        raise invalid('time_range must be a JSON object {"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}',
                      field="time_range")
    try:
        since, until = date.fromisoformat(str(raw["since"])), date.fromisoformat(str(raw["until"]))
    except ValueError:
        raise invalid("time_range dates must be YYYY-MM-DD", field="time_range") from None
    if since < EARLIEST.date() or until > LATEST.date():  # date arithmetic on them cannot overflow
        raise invalid(f"time_range dates must be between {EARLIEST.date()} and {LATEST.date()}", field="time_range")
    if since > until:
        raise invalid("time_range.since is after time_range.until", field="time_range")
    if (until - since).days > 400:
        raise invalid("time_range spans more than 400 days", field="time_range")
    return since, until
