"""The real chat client against a scripted OpenAI-compatible server on 127.0.0.1 (started in the test)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from safemil.cli import main
from safemil.costs.knowledge import (
    ChatClient,
    GroundingError,
    KnowledgeCost,
    LLMConfig,
    LLMError,
    build_prompt,
    extract_expression,
    ground,
)
from safemil.costs.knowledge.errors import ExpressionError
from safemil.tasks import get_task

TASK = "HalfCheetahVelocity"


class ScriptedServer:
    """Serves POST /v1/chat/completions from a list of scripted replies; records every request.

    A reply is ("ok", text) | ("status", code, body[, headers]) | ("sleep", seconds, text) | ("raw", bytes).
    When the script runs out, the last reply repeats.
    """

    def __init__(self):
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                i = min(len(server.requests), len(server.script)) - 1
                kind, *rest = server.script[i]
                if kind == "sleep":
                    time.sleep(rest[0])
                    kind, rest = "ok", rest[1:]
                if kind == "ok":
                    payload = {"id": "x", "object": "chat.completion",
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": rest[0]}}]}
                    self._send(200, json.dumps(payload).encode())
                elif kind == "status":
                    self._send(rest[0], json.dumps({"error": {"message": rest[1]}}).encode(), *rest[2:])
                else:
                    self._send(200, rest[0])

            def _send(self, code, data, headers=None):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


@pytest.fixture
def make_client(server, tmp_path):
    sleeps: list[float] = []

    def make(**kw) -> ChatClient:
        cfg = dict(base_url=server.base_url, model="test-model", api_key="sk-test", timeout_s=2.0,
                   max_retries=2, backoff_s=0.5, cache_dir=str(tmp_path / "cache"))
        cfg.update(kw)
        return ChatClient(LLMConfig(**cfg), sleep=sleeps.append, env={})

    make.sleeps = sleeps
    return make


def fenced(expr: str) -> str:
    return f"The unsafe states are those moving too fast.\n```expr\n{expr}\n```\n"


def test_success_sends_schema_and_rule_and_builds_the_cost(server, make_client):
    server.script = [("ok", fenced("x_velocity > 3.2096"))]
    res = ground(TASK, "Do not run faster than 3.2096 m/s.", "openai", client=make_client())
    assert res.expression == "x_velocity > 3.2096" and res.model == "test-model"
    assert len(server.requests) == 1
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    body = req["json"]
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    user = body["messages"][-1]["content"]
    assert "x_velocity (obs[8]): forward (x) velocity of the torso [m/s]" in user
    assert "Do not run faster than 3.2096 m/s." in user
    x = np.zeros((2, 17), np.float32)
    x[:, 8] = [3.0, 3.3]
    np.testing.assert_array_equal(res.cost(x), [0, 1])
    assert res.cost.provenance["model"] == "test-model" and res.cost.provenance["answer"] == fenced("x_velocity > 3.2096")
    assert len(res.cost.provenance["prompt_key"]) == 64


def test_malformed_answer_is_sent_back_and_fixed(server, make_client):
    server.script = [("ok", fenced("np.abs(x_velocity) > 3.2")), ("ok", "Sorry!\n```expr\nabs(x_velocity) > 3.2\n```")]
    res = ground(TASK, "too fast is unsafe", "openai", client=make_client(), max_repairs=2)
    assert res.expression == "abs(x_velocity) > 3.2"
    assert [a.error is None for a in res.attempts] == [False, True]
    assert "attribute access is not allowed" in res.attempts[0].error
    second = server.requests[1]["json"]["messages"]
    assert second[-2] == {"role": "assistant", "content": fenced("np.abs(x_velocity) > 3.2")}
    assert "attribute access is not allowed" in second[-1]["content"]


def test_repairs_run_out(server, make_client):
    server.script = [("ok", "I cannot help with that.\nReally.")]
    with pytest.raises(GroundingError, match="no acceptable expression in 2 answers"):
        ground(TASK, "too fast is unsafe", "openai", client=make_client(), max_repairs=1)
    assert len(server.requests) == 2


def test_timeout_is_retried_then_reported(server, make_client):
    server.script = [("sleep", 1.0, fenced("x_velocity > 1"))]
    client = make_client(timeout_s=0.2, max_retries=1)
    with pytest.raises(LLMError, match=r"failed after 2 attempts: timed out after 0.2 s"):
        client.complete([{"role": "user", "content": "hi"}])
    assert make_client.sleeps == [0.5]


def test_slow_first_answer_then_success(server, make_client):
    server.script = [("sleep", 1.0, fenced("x_velocity > 1")), ("ok", fenced("x_velocity > 2"))]
    ans = make_client(timeout_s=0.2).complete([{"role": "user", "content": "hi"}])
    assert extract_expression(ans.text) == "x_velocity > 2" and ans.attempts == 2 and not ans.cached


def test_server_errors_are_retried_with_backoff(server, make_client):
    server.script = [("status", 503, "overloaded"), ("status", 429, "slow down", {"Retry-After": "1.5"}),
                     ("ok", fenced("x_velocity > 1"))]
    ans = make_client(max_retries=3).complete([{"role": "user", "content": "hi"}])
    assert ans.attempts == 3 and len(server.requests) == 3
    assert make_client.sleeps == [0.5, 1.5]  # doubling backoff, raised to the server's Retry-After


def test_client_errors_fail_at_once_with_the_servers_message(server, make_client):
    server.script = [("status", 401, "Incorrect API key provided")]
    with pytest.raises(LLMError, match=r"answered HTTP 401: Incorrect API key provided"):
        make_client().complete([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 1 and make_client.sleeps == []


def test_persistent_5xx_gives_up(server, make_client):
    server.script = [("status", 500, "boom")]
    with pytest.raises(LLMError, match=r"failed after 3 attempts: HTTP 500: boom"):
        make_client().complete([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 3


def test_malformed_response_body(server, make_client):
    server.script = [("raw", b"<html>not json</html>")]
    with pytest.raises(LLMError, match="malformed chat-completions response"):
        make_client().complete([{"role": "user", "content": "hi"}])


def test_oversized_response_is_refused(server, make_client):
    server.script = [("ok", "x" * (2 << 20))]
    with pytest.raises(LLMError, match="larger than 1048576 bytes"):
        make_client().complete([{"role": "user", "content": "hi"}])


def test_unreachable_endpoint(make_client):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    client = make_client(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(LLMError, match=r"failed after 2 attempts: unreachable"):
        client.complete([{"role": "user", "content": "hi"}])


def test_cache_hits_skip_the_server_and_key_on_model_and_prompt(server, make_client, tmp_path):
    server.script = [("ok", fenced("x_velocity > 3.2096"))]
    first = ground(TASK, "too fast", "openai", client=make_client())
    again = ground(TASK, "too fast", "openai", client=make_client())
    assert len(server.requests) == 1 and again.attempts[0].cached and not first.attempts[0].cached
    assert again.expression == first.expression
    ground(TASK, "too fast", "openai", client=make_client(model="other-model"))
    ground(TASK, "much too fast", "openai", client=make_client())
    assert len(server.requests) == 3
    ground(TASK, "too fast", "openai", client=make_client(use_cache=False))
    assert len(server.requests) == 4
    # a corrupt entry is a miss, not a crash
    for f in (tmp_path / "cache").rglob("*.json"):
        f.write_text("{torn")
    ground(TASK, "too fast", "openai", client=make_client())
    assert len(server.requests) == 5


def test_settings_come_from_env_with_openai_fallback():
    cfg = LLMConfig().resolve({"OPENAI_BASE_URL": "http://a/v1/", "OPENAI_MODEL": "m1", "OPENAI_API_KEY": "k1"})
    assert (cfg.base_url, cfg.model, cfg.api_key) == ("http://a/v1", "m1", "k1")
    cfg = LLMConfig().resolve({"SAFEMIL_LLM_BASE_URL": "http://b", "SAFEMIL_LLM_MODEL": "m2",
                               "OPENAI_MODEL": "m1", "SAFEMIL_LLM_API_KEY": "k2", "OPENAI_API_KEY": "k1"})
    assert (cfg.base_url, cfg.model, cfg.api_key) == ("http://b", "m2", "k2")
    assert LLMConfig(model="m3").resolve({"SAFEMIL_LLM_MODEL": "m2"}).model == "m3"
    assert LLMConfig(model="m").resolve({}).base_url == "https://api.openai.com/v1"
    with pytest.raises(LLMError, match="no LLM model"):
        LLMConfig().resolve({})
    with pytest.raises(LLMError, match="must start with http"):
        LLMConfig(base_url="file:///etc/passwd", model="m").resolve({})


def test_extraction_rules():
    assert extract_expression("x_velocity > 1") == "x_velocity > 1"
    assert extract_expression("Reasoning...\nExpression: x_velocity > 1\n") == "x_velocity > 1"
    assert extract_expression("```\nx_velocity > 1\n```") == "x_velocity > 1"
    assert extract_expression("Use ```x_velocity > 1``` here.") == "x_velocity > 1"
    assert extract_expression("<think>maybe ```x > 2```</think>\n```expr\nx_velocity > 1\n```") == "x_velocity > 1"
    assert extract_expression("Answer: `x_velocity > 1`") == "x_velocity > 1"
    with pytest.raises(ExpressionError, match="2 code blocks"):
        extract_expression("```expr\nx_velocity > 1\n```\nor\n```expr\nx_velocity > 2\n```")
    with pytest.raises(ExpressionError, match="no expression found"):
        extract_expression("first line\nsecond line")
    with pytest.raises(ExpressionError, match="exactly one expression"):
        extract_expression("```python\nimport os\nos.system('x')\n```")


def test_extraction_is_fast_on_crafted_answers():
    """Answers are untrusted: no input may make extraction slow (regex backtracking)."""
    import time

    for text in ["\n" * 39990 + "x", " \n" * 19990 + "y", "<think>" * 5700, "```" * 13000,
                 "expression:" + " " * 39000 + "x", "```" + "a" * 39000, "`" * 39000, "Expression: " * 3000]:
        t0 = time.perf_counter()
        try:
            extract_expression(text)
        except ExpressionError:
            pass
        assert time.perf_counter() - t0 < 0.5, repr(text[:20])


@pytest.mark.parametrize("task", ["AntVelocity", "PointButton1"])
def test_prompt_lists_every_field_and_names_the_kind_of_task(task):
    spec = get_task(task)
    msgs = build_prompt(spec, "rule")
    assert all(f"{f.name} (obs[{f.index}])" in msgs[1]["content"] for f in spec.schema)
    # a navigation task is not one of MuJoCo's own environments: its id would mislead the model
    assert ("navigation task" in msgs[1]["content"]) == (spec.kind == "navigation")


def test_cli_openai_backend_end_to_end(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFEMIL_LLM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAFEMIL_DATA_DIR", str(tmp_path / "no-data"))
    server.script = [("ok", fenced("x_velocity >> 1")), ("ok", fenced("x_velocity > 3.2096"))]
    out = tmp_path / "cost.json"
    with pytest.raises(SystemExit) as e:
        main(["cost", "ground", "--task", TASK, "--backend", "openai", "--base-url", server.base_url,
              "--model", "m", "--rule", "Running faster than 3.2096 m/s is unsafe.", "--out", str(out)])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "answer 1 rejected" in text and "expression: x_velocity > 3.2096" in text
    cost = KnowledgeCost.load(out)
    assert cost.expression == "x_velocity > 3.2096" and cost.provenance["model"] == "m"


def test_cli_unreachable_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFEMIL_LLM_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as e:
        main(["cost", "ground", "--task", TASK, "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
              "--model", "m", "--retries", "0", "--timeout", "1", "--out", str(tmp_path / "c.json")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: LLM endpoint") and err.count("\n") == 1
