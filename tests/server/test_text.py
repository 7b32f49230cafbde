"""/v1/chat/completions and /v1/completions on the tiny chat model (and raw Orpheus tokens)."""

import json

import pytest

CHAT = {
    "model": "gemma-2-2b-instruct",
    "messages": [{"role": "user", "content": "Hello there"}],
    "max_tokens": 12,
    "seed": 3,
    "temperature": 1.0,
}


def _sse(response):
    return [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]


def test_chat_completion_has_openais_shape_and_usage(client):
    body = client.post("/v1/chat/completions", json=CHAT).json()
    assert body["object"] == "chat.completion" and body["model"] == "gemma-2-2b-instruct"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["prompt_tokens"] > 5 and 1 <= usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streamed_chat_equals_the_unstreamed_reply_and_ends_with_done(client):
    whole = client.post("/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"]
    response = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    data = _sse(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == whole
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_a_stop_string_cuts_the_reply_before_it(client):
    whole = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 40}).json()
    text = whole["choices"][0]["message"]["content"]
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    if len(stop) < 2 or not stop.strip():
        pytest.skip("the random model's reply has no usable middle")
    body = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 40, "stop": [stop]}).json()
    assert body["choices"][0]["message"]["content"] == text[: text.index(stop)]
    assert body["choices"][0]["finish_reason"] == "stop"


def test_a_system_message_is_folded_into_the_first_user_turn_for_gemma(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    response = client.post("/v1/chat/completions", json={**CHAT, "messages": messages})
    assert response.status_code == 200


def test_completions_serve_gemma_and_raw_orpheus_tokens(client):
    body = client.post(
        "/v1/completions", json={"model": "gemma-2-2b-instruct", "prompt": "Once", "seed": 1}
    ).json()
    assert body["object"] == "text_completion" and body["usage"]["completion_tokens"] <= 16
    orpheus = client.post(
        "/v1/completions",
        json={
            "model": "orpheus-3b-ft",
            "prompt": "<custom_token_3>tara: hi<|eot_id|>",
            "max_tokens": 20,
            "seed": 1,
        },
    ).json()
    assert "<custom_token_" in orpheus["choices"][0]["text"]


def test_streamed_completions_end_with_done(client):
    response = client.post(
        "/v1/completions",
        json={"model": "gemma-2-2b-instruct", "prompt": "Once", "stream": True, "max_tokens": 5},
    )
    data = _sse(response)
    assert data[-1] == "[DONE]" and json.loads(data[-2])["usage"]["completion_tokens"] <= 5


@pytest.mark.parametrize(
    ("path", "overrides", "status", "param", "code"),
    [
        ("/v1/chat/completions", {"model": "gpt-4o"}, 404, "model", "model_not_found"),
        ("/v1/chat/completions", {"model": "orpheus-3b-ft"}, 404, "model", "model_not_found"),
        ("/v1/chat/completions", {"messages": []}, 400, "messages", "invalid_value"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "robot", "content": "x"}]},
            400,
            "messages.0.role",
            "invalid_value",
        ),
        ("/v1/chat/completions", {"n": 2}, 400, "n", "invalid_value"),
        # Under the server's MAX_COMPLETION_TOKENS (2048), over the test context (1024).
        ("/v1/chat/completions", {"max_tokens": 2000}, 400, "max_tokens", "context_length_exceeded"),
        ("/v1/chat/completions", {"max_tokens": 99999}, 400, "max_tokens", "invalid_value"),
        ("/v1/chat/completions", {"temperature": 3}, 400, "temperature", "invalid_value"),
    ],
)
def test_bad_text_requests_get_openai_errors(client, path, overrides, status, param, code):
    response = client.post(path, json={**CHAT, **overrides})
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_a_failure_after_the_stream_began_is_an_error_event_then_done(client, monkeypatch):
    from coordinator.errors import GenerationError
    from coordinator.llm.chat import TextStream

    real = TextStream.deltas

    async def failing(self):
        async for delta in real(self):
            yield delta
            raise GenerationError("the engine failed while generating")

    monkeypatch.setattr(TextStream, "deltas", failing)
    data = _sse(client.post("/v1/chat/completions", json={**CHAT, "stream": True}))
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["message"] == "the engine failed while generating" and error["type"] == "server_error"
    monkeypatch.undo()
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # and the server goes on
