"""The script of the sandbox's studio pages (web_studio_pages.py), served as /web/studio-assets/studio.js.

It does what the real single-page upload apps do, in a few dozen lines: upload the chosen file at once
(POST <api>/upload, multipart), show "uploaded", enable the steps and the post button, send the post
(POST <api>/post, JSON) and show the confirmation; a 401 sends the browser to the site's login page, any
other error is shown in the page's role="alert" element. The page's <body data-site data-api data-login>
say which site it is.
"""

SCRIPT = r"""
"use strict";
(function () {
  const body = document.body, site = body.dataset.site, api = body.dataset.api;
  const q = (s, root) => (root || document).querySelector(s);
  const qa = (s, root) => Array.from((root || document).querySelectorAll(s));
  const show = (el, on) => { if (el) el.hidden = !on; };
  const enable = (el, on) => { if (!el) return; if ("disabled" in el && el.tagName === "BUTTON") el.disabled = !on;
    el.setAttribute("aria-disabled", on ? "false" : "true"); };
  let uploadId = null, step = 0;

  if (site === "google-login") {
    q("#identifierNext").addEventListener("click", () => {
      show(q('[data-view="identifier"]'), false); show(q('[data-view="password"]'), true); q('[name="Passwd"]').focus(); });
    return;
  }
  if (!api) return;

  function fail(message, field) {
    const a = q('[role="alert"]'); a.textContent = message; if (field) a.dataset.field = field; show(a, true); }
  function toLogin() { location.assign(body.dataset.login + "?next=" + encodeURIComponent(location.pathname)); }
  async function errorOf(resp) {
    try { const b = await resp.json(); return [b.error.message, b.error.field]; }
    catch (e) { return ["HTTP " + resp.status, null]; } }
  async function send(path, init) {
    let resp;
    try { resp = await fetch(api + path, Object.assign({credentials: "same-origin"}, init)); }
    catch (e) { fail("Network error: " + e); return null; }
    if (resp.status === 401) { toLogin(); return null; }
    if (!resp.ok) { const [m, f] = await errorOf(resp); fail(m, f); return null; }
    return resp.json();
  }
  function setStep(n) {
    step = n;
    qa("section[data-step]").forEach(s => show(s, s.dataset.step === String(n)));
    const last = qa("section[data-step]").length - 1;
    show(q("#next-button") || q("[data-next]"), n < last); show(q("[data-post]"), n === last || site === "tiktok");
  }
  function scheduled() {
    const d = q("[data-date]"), t = q("[data-time]");
    if (!d || !d.value || !t || !t.value || d.closest("[hidden]")) return "";
    return new Date(d.value + "T" + t.value).toISOString();
  }

  const file = q('input[type="file"]');
  file.addEventListener("change", async () => {
    const f = file.files[0]; if (!f) return;
    show(q('[role="alert"]'), false);
    const status = q("[data-upload-status]"); status.textContent = "Uploading 0% ...";
    const form = new FormData(); form.append("video", f, f.name);
    const b = await send("/upload", {method: "POST", body: form});
    if (!b) { status.textContent = ""; return; }
    uploadId = b.upload_id; status.textContent = status.dataset.doneText;
    const link = q("[data-video-link]"); if (link && b.url) { link.href = b.url; link.textContent = b.url; }
    show(q('[data-step="select"]'), false); show(q("[data-after-upload]"), true);
    show(q("[data-reels-notice]"), site === "instagram");
    enable(q("[data-post]"), true); enable(q("#next-button"), true); setStep(0);
  });
  qa("[data-dismiss]").forEach(b => b.addEventListener("click", () => show(b.closest('[role="dialog"]'), false)));
  qa("[data-reveal]").forEach(b => b.addEventListener("click", () => show(q(`[data-revealed="${b.dataset.reveal}"]`), true)));
  qa('[role="radio"]').forEach(r => r.addEventListener("click", () => {
    qa('[role="radio"]', r.parentElement).forEach(o => o.setAttribute("aria-checked", o === r ? "true" : "false"));
    doneLabel(); }));
  qa("[data-schedule-toggle], input[name=postTime]").forEach(r => r.addEventListener("change", () =>
    show(q("[data-schedule]"), q("[data-schedule-toggle]").checked)));
  qa("[data-date], [data-time]").forEach(i => i.addEventListener("input", doneLabel));
  const next = q("#next-button") || q("[data-next]");
  if (next) next.addEventListener("click", () => { if (next.getAttribute("aria-disabled") !== "true") setStep(step + 1); });
  const back = q("#back-button"); if (back) back.addEventListener("click", () => setStep(Math.max(0, step - 1)));
  function checked(group) { const r = q(`[role="radiogroup"][aria-label="${group}"] [aria-checked="true"]`);
    return r ? r.getAttribute("name") : ""; }
  function doneLabel() { const d = q("#done-button"); if (!d) return;
    d.textContent = scheduled() ? "Schedule" : (checked("Save or publish") === "PUBLIC" ? "Publish" : "Save"); }

  function fields() {
    const text = s => { const el = q(s); return el ? el.innerText.replace(/\u00a0/g, " ").replace(/\n+$/, "") : ""; };
    if (site === "youtube") {
      return {title: text("[data-title]"), description: text("[data-description]"),
              tags: (q("[data-tags]").value || "").split(",").map(t => t.trim()).filter(Boolean),
              made_for_kids: checked("Audience"), visibility: checked("Save or publish"), schedule: scheduled()};
    }
    const vis = q("[data-visibility]");
    return {caption: text("[data-caption]"), visibility: vis ? vis.value : "", schedule: scheduled()};
  }
  const post = q("[data-post]");
  post.addEventListener("click", async () => {
    if (post.disabled || post.getAttribute("aria-disabled") === "true" || !uploadId) return;
    enable(post, false); show(q('[role="alert"]'), false);
    const b = await send("/post", {method: "POST", headers: {"Content-Type": "application/json"},
                                   body: JSON.stringify(Object.assign({upload_id: uploadId}, fields()))});
    if (!b) { enable(post, true); return; }
    const done = q("[data-confirmation]"); show(done, true);
    const title = q("[data-confirmation-title]");
    if (title) title.textContent = b.status === "scheduled" ? "Video scheduled" : "Video published";
    const share = q("[data-share-link]"); if (share) { share.href = b.url; share.textContent = b.url; }
    const dialog = q("[data-after-upload]"); if (site !== "tiktok") show(dialog, false);
  });
})();
"""
