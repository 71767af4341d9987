"""Copy from a language model, optional: the sandbox's OpenAI-compatible endpoint over real HTTP through the
official client; a junk, failing or slow endpoint falls back to the templates per variant, counted and
reported, never failing the round; unset, the templates write everything."""

import asyncio
import json

import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from actp_pipeline.generate.design import DesignShares
from actp_pipeline.generate.llm_copy import ModelCopywriter, parse_prompt, user_prompt, validate_copy
from actp_pipeline.generate.moderation import moderate
from actp_pipeline.generate.variants import MatrixShape, build_round, write_copy
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.serving import BackgroundServer


@pytest.fixture(scope="module")
def sb():
    with SandboxServer(WorldConfig(truth_token="truth-for-tests")) as server:
        yield server


def _writer(sb, **kw):
    return ModelCopywriter(base_url=sb.url + "/v1", model="sandbox-copy", api_key=sb.config.api_keys[0], **kw)


def test_the_sandbox_model_writes_every_variant_and_moderation_passes_it(sb):
    r = build_round(pd.DataFrame(), topic="haircare", copywriter=_writer(sb))
    m = r.matrix
    assert r.copy == {"template": 0, "model": len(m), "fallback": 0, "fallback_reasons": {}}
    assert (m["copy_source"] == "model").all() and len(m) == 24
    templates = [write_copy(r.hook_pattern, r.angle, r.cta_style, r.format, r.topic)["hook"] for r in m.itertuples()]
    assert all(h != t for h, t in zip(m["hook"], templates))  # the model's words, not the templates'
    assert all("haircare" in c for c in m["caption"])
    assert m.loc[m["hook_pattern"] == "pov", "hook"].str.startswith("POV:").all()
    assert (m.loc[m["format"] == "listicle", "body_lines"].map(lambda b: b[0].startswith("1. "))).all()
    assert (moderate(m)["moderation"] == "approved").all()
    again = build_round(pd.DataFrame(), topic="haircare", copywriter=_writer(sb)).matrix
    assert again["caption"].tolist() == m["caption"].tolist()  # deterministic, temperature 0


def test_a_wrong_key_falls_back_and_says_why(sb):
    bad = ModelCopywriter(base_url=sb.url + "/v1", model="sandbox-copy", api_key="not-a-key")
    r = build_round(pd.DataFrame(), topic="skincare", shape=MatrixShape(2, 1, 1, 1), copywriter=bad)
    assert r.copy["fallback"] == 2 and r.copy["fallback_reasons"] == {"API error 401": 2}
    assert (r.matrix["copy_source"] == "fallback").all()
    assert r.matrix.iloc[0]["hook"] == write_copy(*r.matrix.iloc[0][["hook_pattern", "angle", "cta_style", "format",
                                                                      "topic"]])["hook"]


# ---------------------------------------------------------------- a misbehaving OpenAI-compatible server
def _completion(content: str) -> dict:
    return {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


async def _chat(request: Request):
    mode = request.path_params["mode"]
    body = await request.json()
    factors = parse_prompt(body["messages"][-1]["content"])
    good = {"hook": f"A {factors['hook_pattern']} hook", "body_lines": ["one", "two"], "cta": "Follow",
            "caption": "A caption"}
    if mode == "junk":
        return JSONResponse(_completion("this is not JSON at all"))
    if mode == "missing_cta":
        return JSONResponse(_completion(json.dumps({**good, "cta": ""})))
    if mode == "error":
        return JSONResponse({"error": {"message": "boom", "type": "server_error", "param": None, "code": None}},
                            status_code=500)
    if mode == "html":
        return PlainTextResponse("<html>bad gateway</html>", status_code=200, media_type="text/html")
    if mode == "slow":
        await asyncio.sleep(3)
    if mode == "half" and factors["hook_pattern"] == "bold_claim":
        return JSONResponse(_completion("{}"))
    return JSONResponse(_completion(json.dumps(good)))


@pytest.fixture(scope="module")
def stub():
    server = BackgroundServer(Starlette(routes=[Route("/{mode}/v1/chat/completions", _chat, methods=["POST"])]),
                              name="llm-stub")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("mode, reason", [
    ("junk", "answer is not JSON"),
    ("missing_cta", "invalid: cta missing, empty or over 120 characters"),
    ("error", "API error 500"),
    ("html", "unreadable answer"),
])
def test_a_bad_answer_falls_back_to_the_template_per_variant(stub, mode, reason):
    writer = ModelCopywriter(base_url=f"{stub.url}/{mode}/v1", model="m", api_key="k", max_failures=100)
    r = build_round(pd.DataFrame(), topic="skincare", shape=MatrixShape(2, 1, 1, 2), copywriter=writer)
    assert len(r.matrix) == 4 and (r.matrix["copy_source"] == "fallback").all()
    assert r.copy["fallback"] == 4 and r.copy["model"] == 0
    (got, n), = r.copy["fallback_reasons"].items()
    assert got.startswith(reason) and n == 4


def test_some_valid_some_not_mixes_sources(stub):
    writer = ModelCopywriter(base_url=f"{stub.url}/half/v1", model="m", api_key="k")
    r = build_round(pd.DataFrame(), topic="skincare", shape=MatrixShape(2, 1, 1, 1), copywriter=writer,
                    shares=DesignShares(1.0, 0.0, 0.0))
    by_hook = r.matrix.set_index("hook_pattern")["copy_source"].to_dict()
    assert by_hook == {"question": "model", "bold_claim": "fallback"}
    assert r.matrix.set_index("hook_pattern").loc["question", "hook"] == "A question hook"


def test_timeouts_fall_back_and_a_dead_endpoint_is_not_asked_again_and_again(stub):
    writer = ModelCopywriter(base_url=f"{stub.url}/slow/v1", model="m", api_key="k", timeout_s=0.3,
                             max_concurrency=2, max_failures=2)
    r = build_round(pd.DataFrame(), topic="skincare", copywriter=writer)
    assert len(r.matrix) == 24 and (r.matrix["copy_source"] == "fallback").all()
    reasons = r.copy["fallback_reasons"]
    assert 2 <= reasons["timeout"] <= 4 and reasons["endpoint failing: not asked"] == 24 - reasons["timeout"]


def test_unreachable_endpoint_falls_back():
    writer = ModelCopywriter(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=1)
    r = build_round(pd.DataFrame(), topic="skincare", shape=MatrixShape(1, 1, 1, 1), copywriter=writer)
    assert r.copy["fallback_reasons"] == {"connection error": 1}


# ------------------------------------------------------------------------------------ units and config
def test_validation_names_what_is_wrong():
    factors = {"format": "listicle"}
    ok = {"hook": "h", "body_lines": ["1. a", "2. b"], "cta": "c", "caption": "cap"}
    assert validate_copy(json.dumps(ok), factors)[0] == ok
    assert validate_copy(json.dumps({**ok, "hook": " "}), factors)[1].startswith("invalid: hook")
    assert "listicle" in validate_copy(json.dumps({**ok, "body_lines": ["a"]}), factors)[1]
    assert "body_lines" in validate_copy(json.dumps({**ok, "body_lines": "a"}), factors)[1]
    assert "caption" in validate_copy(json.dumps({**ok, "caption": None}), factors)[1]
    assert validate_copy("[1]", factors)[1] == "answer is not a JSON object"
    assert validate_copy(None, factors)[1] == "empty answer"


def test_the_prompt_round_trips_its_factors():
    factors = {"topic": "dog training", "hook_pattern": "pov", "angle": "urgency", "cta_style": "save",
               "format": "testimonial"}
    assert parse_prompt(user_prompt(factors)) == factors


def test_unset_means_templates_and_the_key_is_an_env_var(monkeypatch):
    import dagster as dg

    from resources.llm import LLMResource

    for name in ("ACTP_LLM_BASE_URL", "ACTP_LLM_API_KEY", "ACTP_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert LLMResource.from_env().copywriter() is None
    r = build_round(pd.DataFrame(), topic="skincare")
    assert r.copy == {"template": 24, "model": 0, "fallback": 0, "fallback_reasons": {}}
    monkeypatch.setenv("ACTP_LLM_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("ACTP_LLM_MODEL", "m")
    monkeypatch.setenv("ACTP_LLM_API_KEY", "secret-value")
    res = LLMResource.from_env()
    assert isinstance(res.api_key, dg.EnvVar)
    with pytest.raises(ValueError, match="base_url and a model"):
        ModelCopywriter(base_url="", model="m")
