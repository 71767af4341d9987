"""The landing page's snippet: keeps the click id the tracked link added and reports views and conversions.

A page includes `<script src="https://HOOKS/snippet.js" async></script>`; the snippet reads `actp_cid` from
the address (the redirect put it there), keeps it in the page's own localStorage for 30 days (a visitor
who comes back to buy is still tied to the click), sends a page view, and exposes
`actp.conversion(event, {value, currency, dedupe_key})`. It sends with navigator.sendBeacon as text/plain,
which needs no CORS preflight and survives the page being closed.
"""

from __future__ import annotations

SNIPPET_JS = r"""(function () {
  "use strict";
  var base = (document.currentScript && document.currentScript.src || "").replace(/\/snippet\.js.*$/, "");
  var KEY = "actp_cid", DAYS = 30, cid = null;
  try {
    var fromUrl = new URLSearchParams(location.search).get(KEY);
    if (fromUrl && /^[0-9a-f]{24}$/.test(fromUrl)) {
      localStorage.setItem(KEY, JSON.stringify({id: fromUrl, until: Date.now() + DAYS * 864e5}));
    }
    var kept = JSON.parse(localStorage.getItem(KEY) || "null");
    if (kept && kept.until > Date.now()) { cid = kept.id; }
  } catch (e) { cid = null; }
  function send(path, body) {
    if (!cid || !base) { return false; }
    body.click_id = cid;
    var data = JSON.stringify(body);
    if (navigator.sendBeacon) { return navigator.sendBeacon(base + path, new Blob([data], {type: "text/plain"})); }
    fetch(base + path, {method: "POST", body: data, keepalive: true, mode: "no-cors"});
    return true;
  }
  window.actp = {
    clickId: function () { return cid; },
    conversion: function (event, opts) {
      opts = opts || {};
      return send("/e/conversion", {event: event, value: opts.value, currency: opts.currency,
                                    dedupe_key: opts.dedupe_key});
    }
  };
  send("/e/pv", {url: location.href});
})();
"""
