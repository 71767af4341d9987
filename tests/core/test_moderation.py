"""Brand safety before rendering: every documented bad input is caught under its category, every close-but-fine
input passes, a rejected variant is quarantined (approvals row with its reasons, never a render job), and a
round of 10,000 variants is moderated quickly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from actp_pipeline.generate import variants as variants_module
from actp_pipeline.generate.moderation import CATEGORIES, ModerationRules, findings, moderate
from actp_pipeline.generate.variants import MatrixShape, build_matrix, record_round

CASES_FILE = Path(__file__).with_name("moderation_cases.txt")


def _cases() -> list[tuple[str, str, str]]:
    rows = []
    for line in CASES_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, category, text = line.split("\t", 2)
            rows.append((kind, category, text))
    return rows


CASES = _cases()


def test_the_case_file_covers_every_category():
    bad = [c for c in CASES if c[0] == "BAD"]
    assert len(bad) >= 60 and sum(c[0] == "CLEAN" for c in CASES) >= 40
    assert {c[1] for c in bad} == CATEGORIES - {"brand_term", "length"}
    assert {c[0] for c in CASES} == {"BAD", "CLEAN"}


@pytest.mark.parametrize("kind,category,text", CASES, ids=[f"{k}:{t[:40]}" for k, _, t in CASES])
def test_documented_case(kind, category, text):
    found = findings({"caption": text})
    if kind == "BAD":
        assert category in {f.category for f in found}, (text, found)
        assert all(f.field == "caption" and f.reason.startswith("caption: ") for f in found)
    else:
        assert found == [], (text, found)


def test_every_case_is_caught_the_same_way_in_a_batch():
    """moderate() reads all rows of a field in one pass per category: the batch must agree with one-by-one."""
    frame = pd.DataFrame({"hook": [t for _, _, t in CASES], "caption": [""] * len(CASES)})
    out = moderate(frame)
    expected = ["rejected" if kind == "BAD" else "approved" for kind, _, _ in CASES]
    assert out["moderation"].tolist() == expected
    for (kind, category, _), found in zip(CASES, out["moderation_findings"]):
        if kind == "BAD":
            assert category in {f["category"] for f in found}


def test_a_finding_names_field_text_and_reason():
    (f,) = findings({"caption": "call +1 415 555 0100"})
    assert (f.category, f.text, f.field) == ("pii_phone", "+1 415 555 0100", "caption")
    assert f.reason == "caption: phone number '+1 415 555 0100' (PII)"
    no_health = ModerationRules(categories=CATEGORIES - {"risky_claim_health"})
    (g,) = findings({"hook": "A c.u.r.3 for dull skin"}, no_health)
    assert g.reason == "hook: banned term 'c.u.r.3' (banned, reads as 'cure')"


def test_brand_terms_extra_banned_and_switches():
    rules = ModerationRules(brand_terms=("GlowCo", "rival serum"), extra_banned=["dupe"])
    found = findings({"body_lines": ["Better than Gl0wC0", "Try the r.i.v.a.l serum"], "hashtags": ["#dupe"]}, rules)
    assert [(f.category, f.field) for f in found] == [("brand_term", "body_lines"), ("brand_term", "body_lines"),
                                                     ("banned_term", "hashtags")]
    assert findings({"caption": "Better than GlowCo"}) == []  # brand terms are empty by default
    assert findings({"caption": "email jo@example.com"}, ModerationRules(categories=CATEGORIES - {"pii_email"})) == []
    with pytest.raises(ValueError):
        ModerationRules(categories=frozenset({"nonsense"}))


def test_a_caption_repeating_the_hook_reports_the_finding_once():
    found = findings({"hook": "A miracle!", "caption": "A miracle!\nFollow for more"})
    assert [(f.field, f.text) for f in found] == [("hook", "miracle")]


def test_generated_copy_passes_and_bad_copy_carries_all_reasons():
    m = build_matrix(pd.DataFrame(), topic="skincare", shape=MatrixShape(6, 5, 4, 3, max_variants=10_000))
    assert (moderate(m)["moderation"] == "approved").all()
    bad = m.head(1).assign(caption="A miracle cure! Call 415-555-0100", hook="h" * 500)
    row = moderate(bad).iloc[0]
    assert row["moderation"] == "rejected"
    assert {f["category"] for f in row["moderation_findings"]} == {"length", "banned_term", "risky_claim_health",
                                                                    "pii_phone"}
    assert json.loads(json.dumps(row["moderation_findings"])) == row["moderation_findings"]
    assert row["moderation_reason"] == "; ".join(f["reason"] for f in row["moderation_findings"])
    assert moderate(m.head(1)).iloc[0]["moderation_reason"] == "passed moderation rules"


def test_ten_thousand_rows_are_moderated_quickly():
    frames = [build_matrix(pd.DataFrame(), topic=f"skincare {k}", shape=MatrixShape(6, 5, 4, 3, max_variants=10_000))
              for k in range(30)]
    big = pd.concat(frames, ignore_index=True).head(10_000)
    big.loc[::100, "caption"] = "Call 415-555-0100 for a miracle"
    moderate(big.head(10))  # compile the patterns outside the clock
    started = time.perf_counter()
    out = moderate(big)
    elapsed = time.perf_counter() - started
    assert len(out) == 10_000 and (out["moderation"] == "rejected").sum() == 100
    assert elapsed < 2.0, f"{elapsed:.2f}s"


def test_a_rejected_variant_is_quarantined_never_rendered(tmp_path):
    from actp_pipeline.store import schema
    from actp_pipeline.store.engine import connect_store

    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    m = build_matrix(pd.DataFrame(), topic="skincare", shape=MatrixShape(2, 1, 1, 1))
    bad_id = m.iloc[1]["variant_id"]
    m.loc[1, "caption"] = m.loc[1, "caption"] + "\nEmail jo@example.com, results guaranteed"
    moderated = variants_module.moderate(m)
    counts = record_round(engine, moderated, platform="tiktok")
    assert counts == {"new_variants": 2, "approved": 1, "renders_queued": 1, "rejected": 1}
    with engine.connect() as c:
        jobs = c.execute(sa.select(schema.render_jobs.c.variant_id)).scalars().all()
        row = c.execute(sa.select(schema.approvals).where(schema.approvals.c.variant_id == bad_id)).mappings().one()
    assert bad_id not in jobs and jobs == [m.iloc[0]["variant_id"]]
    assert row["status"] == "rejected" and row["decided_by"] == "moderation-rules"
    assert row["reason"] == moderated.iloc[1]["moderation_reason"]
    assert "caption: email address 'jo@example.com' (PII)" in row["reason"]
    assert "caption: guarantee claim 'results guaranteed' (risky claim)" in row["reason"]
    # a second round never re-queues the rejected variant
    assert record_round(engine, moderated)["renders_queued"] == 0
