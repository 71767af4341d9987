"""A listing web page (a market that has no API) read with a real browser, politely, as a research source.

Why: some of the market is only visible as web pages. Reading them is allowed only where the site and the
account both say so: a source fetches nothing unless its config says `allow: true` (off by default), obeys
the site's robots.txt before every page (RFC 9309: a robots.txt answering 4xx means no rules, 5xx or no
answer means keep out, as does any network failure; Crawl-delay is honoured when it is longer than our own
throttle, in whole seconds as urllib.robotparser reads it), and spaces its page loads by at least
`min_interval_s`, counted from the end of one load to the start of the next.

The browser is Playwright's sync API on Debian's Chromium (actp_pipeline/chromium.py's binary and flags).
robots.txt is read with httpx and parsed by urllib.robotparser (one read per host per fetch): the browser
is for the pages, not for a plain text file. Items come out in the raw schema (base.RAW_FIELDS) through CSS
selectors: `item_selector` finds each item, `fields` maps a raw field to "css" (the element's text) or
"css@attr" (an attribute; an empty css is the item itself); hashtags take every match. Numbers are read
from text; anything unreadable is passed on as it is, for the validator to report. The defaults match the
sandbox's listing (sandbox/routes/market_pages.py). A `{day}` in the url becomes the day fetched. The
listing is followed through `next_selector` links for at most `max_pages` pages (the first max_pages pages
are the answer: a listing is ranked); a link back to a page already read fails the source.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib import robotparser
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from actp_pipeline.chromium import CHROMIUM_ARGS, chromium_problem, default_chromium

from .base import SourceError

TYPE = "page"
USER_AGENT = "actp-research/0.1"
DEFAULT_FIELDS = {
    "id": "@data-id", "platform": "@data-platform", "kind": "@data-kind", "author": ".author",
    "url": ".author@href", "caption": ".caption", "hashtags": ".hashtags li", "posted_at": ".posted-at@datetime",
    "duration_s": ".duration@data-seconds", "views": ".views@data-value", "likes": ".likes@data-value",
    "comments": ".comments@data-value", "shares": ".shares@data-value", "saves": ".saves@data-value",
}
LIST_FIELDS = ("hashtags",)
INT_FIELDS = ("views", "likes", "comments", "shares", "saves", "impressions")
FLOAT_FIELDS = ("duration_s", "spend_usd")
RAW = ("id", "platform", "kind", "author", "url", "caption", "hashtags", "posted_at", "duration_s", "media_type",
       "views", "likes", "comments", "shares", "saves", "impressions", "spend_usd")
SPEC_KEYS = ("type", "name", "url", "allow", "min_interval_s", "max_pages", "user_agent", "item_selector",
             "fields", "next_selector", "timeout_s")
_INT = re.compile(r"^-?\d+$")
_FLOAT = re.compile(r"^-?\d+(?:\.\d+)?$")
# one evaluate call per page: the items' fields as strings (or lists of strings), missing ones left out
_EXTRACT = """(items, spec) => items.map(el => {
  const out = {};
  for (const [field, sel] of Object.entries(spec.fields)) {
    const at = sel.lastIndexOf('@');
    const css = at < 0 ? sel : sel.slice(0, at), attr = at < 0 ? null : sel.slice(at + 1);
    const nodes = css.trim() ? Array.from(el.querySelectorAll(css)) : [el];
    const read = n => attr ? n.getAttribute(attr) : n.textContent.trim();
    const values = nodes.map(read).filter(v => v !== null);
    if (spec.lists.includes(field)) { if (nodes.length) out[field] = values; }
    else if (values.length) out[field] = values[0];
  }
  return out;
})"""


def typed(item: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers read from the page's text; a value that is not one stays text (the validator names it)."""
    out = dict(item)
    for name in INT_FIELDS:
        if isinstance(out.get(name), str) and _INT.match(out[name].strip()):
            out[name] = int(out[name].strip())
    for name in FLOAT_FIELDS:
        if isinstance(out.get(name), str) and _FLOAT.match(out[name].strip()):
            out[name] = float(out[name].strip())
    return out


class Robots:
    """robots.txt of each host, read once per fetch, and the rule that decides a URL."""

    def __init__(self, user_agent: str, timeout_s: float, source: str):
        self.user_agent, self.timeout_s, self.source = user_agent, timeout_s, source
        self._parsers: dict[str, robotparser.RobotFileParser] = {}

    def parser(self, url: str) -> robotparser.RobotFileParser:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self._parsers:
            self._parsers[host] = self._read(host + "/robots.txt")
        return self._parsers[host]

    def _read(self, robots_url: str) -> robotparser.RobotFileParser:
        rp = robotparser.RobotFileParser(robots_url)
        try:
            with httpx.Client(timeout=self.timeout_s, follow_redirects=True, max_redirects=5,
                              headers={"User-Agent": self.user_agent}) as http:
                resp = http.get(robots_url)
        except httpx.HTTPError as exc:  # unreachable: RFC 9309 says assume complete disallow
            rp.disallow_all = True
            rp.why = f"{robots_url} unreachable ({type(exc).__name__}): everything disallowed"  # type: ignore[attr-defined]
            return rp
        if resp.status_code >= 500:
            rp.disallow_all = True
            rp.why = f"{robots_url} answered HTTP {resp.status_code}: everything disallowed"  # type: ignore[attr-defined]
        elif resp.status_code >= 400:
            rp.allow_all = True  # "unavailable": no rules apply
        else:
            rp.parse(resp.text.splitlines())
        rp.modified()  # mark it read: can_fetch() says False for a parser that was never read
        return rp

    def check(self, url: str) -> float:
        """Raise SourceError naming the rule when robots.txt keeps us out of `url` (retryable when it was
        an unreachable robots.txt, which may answer later); else its Crawl-delay (0 when none)."""
        rp = self.parser(url)
        if not rp.can_fetch(self.user_agent, url):
            unreachable = getattr(rp, "why", None)
            raise SourceError(self.source, f"robots.txt disallows {url}: {unreachable or self._rule(rp, url)}",
                              retryable=unreachable is not None)
        delay = rp.crawl_delay(self.user_agent)
        return float(delay) if delay else 0.0

    def _rule(self, rp: robotparser.RobotFileParser, url: str) -> str:
        """The line that refused `url`, found the way robotparser decides (first matching line of the first
        group naming us, else of the * group)."""
        parts = urlsplit(url)
        path = urlunsplit(("", "", parts.path or "/", parts.query, "")) or "/"
        groups = [e for e in getattr(rp, "entries", []) if e.applies_to(self.user_agent)]
        default = getattr(rp, "default_entry", None)
        for entry in groups + ([default] if default else []):
            for line in entry.rulelines:
                if line.applies_to(path):
                    return f"rule 'Disallow: {line.path}' for user-agent {', '.join(entry.useragents)}"
        return "no rule allows it"


class PageCollectorSource:
    """Items of a listing page and the pages after it, read with Chromium (see the module docstring)."""

    def __init__(self, url: str, *, name: str | None = None, allow: bool = False, min_interval_s: float = 2.0,
                 max_pages: int = 20, user_agent: str = USER_AGENT, item_selector: str = "article.market-item",
                 fields: Mapping[str, str] | None = None, next_selector: str = "a[rel=next]",
                 timeout_s: float = 30.0, sleep: Callable[[float], None] = time.sleep):
        self.url = url
        self.name = name or f"page:{urlsplit(url).netloc}"
        self.allow, self.min_interval_s, self.max_pages = allow, min_interval_s, max_pages
        self.user_agent, self.item_selector, self.next_selector = user_agent, item_selector, next_selector
        self.fields = dict(fields or DEFAULT_FIELDS)
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.loads: list[float] = []  # monotonic times this source's page loads started (the throttle's record)
        self._done: float | None = None  # when the last page load finished

    def __repr__(self) -> str:
        return f"PageCollectorSource(name={self.name!r}, url={self.url!r}, allow={self.allow})"

    def fetch(self, day: str, queries: Sequence[str] = ()) -> Iterable[dict[str, Any]]:
        """Every item of the listing for `day` (the page lists: `queries` are not used)."""
        if not self.allow:
            raise SourceError(self.name, "page collection is not allowed for this source (set allow: true in its "
                              "config once the site's terms permit it); nothing was fetched")
        problem = chromium_problem()
        if problem:
            raise SourceError(self.name, f"cannot collect pages: {problem}")
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        robots = Robots(self.user_agent, self.timeout_s, self.name)
        first = self.url.replace("{day}", day)
        robots.check(first)  # a refused first page needs no browser
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=default_chromium(), args=list(CHROMIUM_ARGS),
                                             headless=True)
                try:
                    context = browser.new_context(user_agent=self.user_agent, java_script_enabled=True)
                    return self._pages(context.new_page(), first, robots)
                finally:
                    browser.close()
        except PlaywrightError as exc:
            timed_out = "Timeout" in type(exc).__name__ or "timeout" in str(exc).lower()
            raise SourceError(self.name, f"browser failed: {str(exc).splitlines()[0][:200]}",
                              retryable=timed_out or "net::" in str(exc)) from None

    def _pages(self, page: Any, url: str, robots: Robots) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        spec = {"fields": self.fields, "lists": list(LIST_FIELDS)}
        for _ in range(self.max_pages):
            if url in seen:
                raise SourceError(self.name, f"the listing links back to {url}; stopped")
            seen.add(url)
            self._throttle(robots.check(url))
            try:
                resp = page.goto(url, wait_until="domcontentloaded", timeout=self.timeout_s * 1000)
            finally:
                self._done = time.monotonic()
            status = resp.status if resp is not None else 0
            if status >= 400:
                raise SourceError(self.name, f"{url} answered HTTP {status}", retryable=status >= 500 or status == 429)
            items.extend(typed(i) for i in page.locator(self.item_selector).evaluate_all(_EXTRACT, spec))
            nxt = page.locator(self.next_selector)
            href = nxt.first.get_attribute("href") if nxt.count() else None
            if not href:
                break
            url = urljoin(page.url, href)
        return items

    def _throttle(self, crawl_delay: float) -> None:
        """Wait until min_interval_s (or the site's longer Crawl-delay) has passed since the last page load
        finished: counted from its start, a slow answer would shorten the gap the site sees."""
        gap = max(self.min_interval_s, crawl_delay)
        if self._done is not None:
            wait = self._done + gap - time.monotonic()
            if wait > 0:
                self._sleep(wait)
        self.loads.append(time.monotonic())


def _number(spec: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{TYPE} source: {key} must be a number from {low:g} to {high:g}, got {value!r:.40}")
    return float(value)


def _string(spec: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{TYPE} source: {key} must be a non-empty string, got {value!r:.80}")
    return value.strip()


def _fields(spec: Mapping[str, Any]) -> dict[str, str]:
    value = spec.get("fields", DEFAULT_FIELDS)
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{TYPE} source: fields must be a mapping of raw field -> CSS selector")
    for key, sel in value.items():
        if key not in RAW:
            raise ValueError(f"{TYPE} source: fields: {key!r} is not a raw item field ({', '.join(RAW)})")
        if not isinstance(sel, str) or not sel.strip():
            raise ValueError(f"{TYPE} source: fields.{key} must be a CSS selector (\"css\" or \"css@attr\")")
    return dict(value)


def from_spec(spec: Mapping[str, Any], *, env: Mapping[str, str]) -> PageCollectorSource:
    """A page collector from its configuration; a bad field raises ValueError naming it."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"{TYPE} source: unknown field {unknown[0]!r}; fields are {', '.join(SPEC_KEYS[1:])}")
    url = _string(spec, "url")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"{TYPE} source: url must be an http(s) URL, got {url!r:.80}")
    allow = spec.get("allow", False)
    if not isinstance(allow, bool):
        raise ValueError(f"{TYPE} source: allow must be true or false, got {allow!r:.40}")
    max_pages = spec.get("max_pages", 20)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or not 1 <= max_pages <= 1000:
        raise ValueError(f"{TYPE} source: max_pages must be an integer from 1 to 1000, got {max_pages!r:.40}")
    return PageCollectorSource(
        url, name=_string(spec, "name", f"page:{urlsplit(url).netloc}"), allow=allow,
        min_interval_s=_number(spec, "min_interval_s", 2.0, 0.0, 3600.0), max_pages=max_pages,
        user_agent=_string(spec, "user_agent", USER_AGENT),
        item_selector=_string(spec, "item_selector", "article.market-item"), fields=_fields(spec),
        next_selector=_string(spec, "next_selector", "a[rel=next]"),
        timeout_s=_number(spec, "timeout_s", 30.0, 0.1, 600.0))
