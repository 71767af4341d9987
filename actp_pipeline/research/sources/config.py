"""Which research sources each account reads: a JSON file named by ACTP_RESEARCH_SOURCES.

    {"accounts": {
        "tiktok:main": [
            {"type": "sandbox_trending"},
            {"type": "json_feed", "name": "feed:competitors", "url": "https://...", "auth_env": "FEED_TOKEN"},
            {"type": "meta_ad_library", "token_env": "META_AD_LIBRARY_TOKEN", ...},
            {"type": "page", ...},
            {"type": "file", "path": "/data/research/{day}.jsonl"}]}}

Without the variable the default is the platform host's two feeds (sandbox_trending, sandbox_ads) for one
account, "default", so the demo and the tests work with nothing configured. Secrets are never values in this
file: a spec names the environment variable that holds one (`auth_env`, `token_env`, any `*_env` key), and a
key that looks like a secret itself (token, api_key, password, ...) is refused. A bad spec is an error naming
the file, the account, the index and the field. Types map to modules imported only when used (REGISTRY);
each module exposes `from_spec(spec, *, env) -> Source` (the sandbox feeds also need the platform client).
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actp_pipeline.research.sources.base import RAW_FIELDS, Source

ENV = "ACTP_RESEARCH_SOURCES"
DEFAULT_ACCOUNT = "default"
DEFAULT_SPECS = ({"type": "sandbox_trending"}, {"type": "sandbox_ads"}, {"type": "sandbox_search"})
_PKG = "actp_pipeline.research.sources"
REGISTRY = {
    "sandbox_trending": f"{_PKG}.sandbox_feed", "sandbox_ads": f"{_PKG}.sandbox_feed",
    "sandbox_search": f"{_PKG}.sandbox_feed",
    "json_feed": f"{_PKG}.json_feed", "file": f"{_PKG}.file_import",
    "meta_ad_library": f"{_PKG}.ad_library", "page": f"{_PKG}.page_collector",
}
SANDBOX_TYPES = ("sandbox_trending", "sandbox_ads", "sandbox_search")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_KEYS = re.compile(r"^(token|access_token|api_key|apikey|secret|client_secret|password|authorization|key)$",
                          re.IGNORECASE)
# field -> (accepted types, required) per type this module checks in full; other types check their own
_STR, _NUM, _INT, _MAP = (str,), (int, float), (int,), (dict,)
FIELDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "sandbox_trending": {"platform": (_STR, False)},
    "sandbox_ads": {"platform": (_STR, False)},
    "sandbox_search": {"platform": (_STR, False)},
    "file": {"path": (_STR, True), "name": (_STR, False)},
    "json_feed": {
        "name": (_STR, True), "url": (_STR, True), "items_path": (_STR, False), "next_cursor_path": (_STR, False),
        "cursor_param": (_STR, False), "next_url_path": (_STR, False), "fields": (_MAP, False),
        "defaults": (_MAP, False), "params": (_MAP, False), "day_param": ((str, type(None)), False),
        "query_param": (_STR, False), "auth_env": (_STR, False), "auth_header": (_STR, False),
        "auth_scheme": (_STR, False), "timeout_s": (_NUM, False), "max_retries": (_INT, False),
        "backoff_s": (_NUM, False), "max_pages": (_INT, False),
    },
}
# numeric bounds: a 0 s timeout or a million pages is a typo, not a setting
BOUNDS = {"timeout_s": (0.1, 300), "max_retries": (0, 10), "backoff_s": (0, 60), "max_pages": (1, 10_000)}


class ConfigError(ValueError):
    """A research-source config that cannot be used; the message names where."""


@dataclass(frozen=True)
class SourceSpec:
    account: str
    index: int
    type: str
    spec: dict[str, Any]
    where: str  # "<file>: accounts['tiktok:main'][2]"

    def error(self, field: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}.{field}: {problem}" if field else f"{self.where}: {problem}")


def _check_secrets(s: SourceSpec) -> None:
    for key, value in s.spec.items():
        if _SECRET_KEYS.match(key):
            raise s.error(key, "a secret does not belong in the config file: put it in an environment variable "
                          "and name that variable here (e.g. \"token_env\": \"META_AD_LIBRARY_TOKEN\")")
        if key.endswith("_env") and not (isinstance(value, str) and _ENV_NAME.match(value)):
            raise s.error(key, "expected the NAME of an environment variable (letters, digits, _)")


def _check_json_feed(s: SourceSpec) -> None:
    spec = s.spec
    if not spec["url"].startswith(("http://", "https://")):
        raise s.error("url", f"expected an http(s) URL, got {spec['url'][:80]!r}")
    if spec.get("next_cursor_path") and spec.get("next_url_path"):
        raise s.error("next_url_path", "give next_cursor_path or next_url_path, not both")
    for ours in (spec.get("fields") or {}).values():
        if ours not in RAW_FIELDS:
            raise s.error("fields", f"{ours!r} is not one of our fields ({', '.join(RAW_FIELDS)})")
    for ours in spec.get("defaults") or {}:
        if ours not in RAW_FIELDS:
            raise s.error("defaults", f"{ours!r} is not one of our fields ({', '.join(RAW_FIELDS)})")
    for key, (low, high) in BOUNDS.items():
        if key in spec and not (low <= spec[key] <= high):
            raise s.error(key, f"{spec[key]!r} outside {low}..{high}")


def check(s: SourceSpec) -> None:
    """Raise ConfigError naming the account, index and field of the first problem of one spec."""
    _check_secrets(s)
    fields = FIELDS.get(s.type)
    if fields is None:
        return  # a type whose module checks its own spec in from_spec
    for key in s.spec:
        if key != "type" and key not in fields:
            raise s.error(key, f"unknown field for type {s.type!r} (known: {', '.join(sorted(fields))})")
    for key, (types, required) in fields.items():
        if key not in s.spec:
            if required:
                raise s.error(key, "missing")
            continue
        value = s.spec[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise s.error(key, f"expected {' or '.join(t.__name__ for t in types)}, got {type(value).__name__}")
    if s.type == "json_feed":
        _check_json_feed(s)


def parse(data: Any, where: str = "config") -> list[SourceSpec]:
    """Every source spec of a config document, checked; in account order, then list order."""
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise ConfigError(f"{where}: expected {{\"accounts\": {{\"<platform>:<account>\": [<source>, ...]}}}}")
    specs = []
    for account, entries in data["accounts"].items():
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: accounts[{account!r}]: expected a list of sources, got {type(entries).__name__}")
        for i, entry in enumerate(entries):
            at = f"{where}: accounts[{account!r}][{i}]"
            if not isinstance(entry, dict):
                raise ConfigError(f"{at}: expected an object, got {type(entry).__name__}")
            kind = entry.get("type")
            if kind not in REGISTRY:
                raise ConfigError(f"{at}.type: unknown source type {kind!r} (known: {', '.join(REGISTRY)})")
            spec = SourceSpec(str(account), i, kind, dict(entry), at)
            check(spec)
            specs.append(spec)
    return specs


def load(path: str | Path | None = None) -> list[SourceSpec]:
    """The configured specs: from `path`, else from $ACTP_RESEARCH_SOURCES, else the default sandbox feeds."""
    path = path if path not in (None, "") else os.environ.get(ENV) or None
    if path is None:
        return parse({"accounts": {DEFAULT_ACCOUNT: [dict(s) for s in DEFAULT_SPECS]}}, "default sources")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path} ({ENV}): cannot read ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    return parse(data, str(path))


def _module(s: SourceSpec) -> Any:
    try:
        return importlib.import_module(REGISTRY[s.type])
    except ModuleNotFoundError as e:
        if e.name == REGISTRY[s.type]:
            raise s.error("type", f"source type {s.type!r} needs {REGISTRY[s.type]}, which is not installed "
                          "in this version") from None
        raise


def build(s: SourceSpec, *, env: Mapping[str, str], platform_feed: Any = None) -> Source:
    """The Source of one spec; a module's own ValueError/KeyError/TypeError becomes a ConfigError naming it."""
    module = _module(s)
    try:
        if s.type in SANDBOX_TYPES:
            if platform_feed is None:
                raise s.error("type", "the sandbox feeds need the platform host (PlatformResource)")
            return module.from_spec(s.spec, platform_feed=platform_feed)
        return module.from_spec(s.spec, env=env)
    except ConfigError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise s.error("", f"{type(e).__name__}: {e}") from None


def sources_by_account(specs: list[SourceSpec], *, env: Mapping[str, str] | None = None,
                       platform_feed: Any = None) -> dict[str, list[Source]]:
    """account -> its Sources. Names are unique within an account; the same name in two accounts must be the
    same spec (it is then one source, fetched once: see `distinct`)."""
    env = os.environ if env is None else env
    out: dict[str, list[Source]] = {}
    by_name: dict[str, SourceSpec] = {}
    for s in specs:
        source = build(s, env=env, platform_feed=platform_feed)
        if any(other.name == source.name for other in out.get(s.account, [])):
            raise s.error("name", f"{source.name!r} is already a source of this account")
        first = by_name.setdefault(source.name, s)
        if first.spec != s.spec:
            raise s.error("name", f"{source.name!r} names a different source in {first.where}")
        out.setdefault(s.account, []).append(source)
    return out


def distinct(by_account: Mapping[str, list[Source]]) -> list[Source]:
    """Every source once, in the order of first appearance (an account's list order, then the next account)."""
    seen: dict[str, Source] = {}
    for sources in by_account.values():
        for source in sources:
            seen.setdefault(source.name, source)
    return list(seen.values())
