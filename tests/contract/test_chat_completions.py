"""The sandbox's chat-completions endpoint against the official `openai` client and OpenAI's documented
shapes: the answer parses into the SDK's ChatCompletion, errors into its exception classes with OpenAI's
{"error": {message, type, param, code}} body, and the output is a deterministic function of the request."""

import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion

from actp_pipeline.generate.llm_copy import SYSTEM_PROMPT, user_prompt
from actp_pipeline.sandbox import SandboxServer, WorldConfig

FACTORS = {"topic": "skincare", "hook_pattern": "question", "angle": "curiosity", "cta_style": "save",
           "format": "listicle"}


@pytest.fixture(scope="module")
def sb():
    with SandboxServer(WorldConfig(truth_token="truth-for-tests")) as server:
        yield server


@pytest.fixture
def client(sb):
    with openai.OpenAI(base_url=sb.url + "/v1", api_key=sb.config.api_keys[0], max_retries=0) as c:
        yield c


def _messages(factors=FACTORS):
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user_prompt(factors)}]


def test_the_official_client_parses_the_answer(client):
    answer = client.chat.completions.create(model="sandbox-copy", messages=_messages(), temperature=0,
                                            response_format={"type": "json_object"})
    assert isinstance(answer, ChatCompletion)
    assert answer.object == "chat.completion" and answer.model == "sandbox-copy" and answer.id.startswith("chatcmpl-")
    assert isinstance(answer.created, int) and answer.created > 0
    choice = answer.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop" and choice.message.role == "assistant"
    copy = json.loads(choice.message.content)
    assert set(copy) == {"hook", "body_lines", "cta", "caption"}
    assert copy["hook"].endswith("?") and "skincare" in copy["caption"]  # a question hook about the topic
    assert [line[:3] for line in copy["body_lines"]] == ["1. ", "2. ", "3. "]  # a listicle
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens > 0


def test_the_same_request_gets_the_same_answer_and_other_factors_another(client):
    first = client.chat.completions.create(model="m", messages=_messages(), temperature=0)
    second = client.chat.completions.create(model="m", messages=_messages(), temperature=0)
    other = client.chat.completions.create(model="m", messages=_messages({**FACTORS, "hook_pattern": "pov"}))
    assert first.id == second.id and first.choices[0].message.content == second.choices[0].message.content
    assert json.loads(other.choices[0].message.content)["hook"].startswith("POV:")


def test_n_choices(client):
    answer = client.chat.completions.create(model="m", messages=_messages(), n=2)
    assert [c.index for c in answer.choices] == [0, 1]


def test_a_bad_key_is_openais_401(sb):
    with openai.OpenAI(base_url=sb.url + "/v1", api_key="sk-wrong", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError) as err:
            c.chat.completions.create(model="m", messages=_messages())
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    assert set(err.value.body) == {"message", "type", "param", "code"}
    assert err.value.type == "invalid_request_error"


@pytest.mark.parametrize("kwargs, param", [
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0]"),
    ({"model": "m", "messages": _messages(), "temperature": 3}, "temperature"),
    ({"model": "m", "messages": [{"role": "user", "content": "no j-word"}], "response_format": {"type": "json_object"}},
     "messages"),
])
def test_a_bad_request_is_openais_400(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**kwargs)
    assert err.value.param == param and err.value.type == "invalid_request_error"
    assert err.value.body["message"]


def test_raw_error_bodies_are_openais_shape(sb):
    for headers, body, status in [({}, {"model": "m", "messages": []}, 401),
                                  ({"Authorization": f"Bearer {sb.config.api_keys[0]}"}, None, 400)]:
        r = httpx.post(sb.url + "/v1/chat/completions", headers=headers,
                       content=b"{not json" if body is None else json.dumps(body).encode())
        assert r.status_code == status
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(sb.url + "/v1/chat/completions").status_code == 405
