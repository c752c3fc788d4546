"""A minimal OpenAI-compatible chat-completions client (standard library only) with a disk cache.

Works with any server that speaks ``POST {base_url}/chat/completions`` (OpenAI,
llama.cpp, vLLM, Ollama, ...). Settings come from arguments, else environment
variables ``SAFEMIL_LLM_BASE_URL`` / ``SAFEMIL_LLM_MODEL`` / ``SAFEMIL_LLM_API_KEY``,
else ``OPENAI_BASE_URL`` / ``OPENAI_MODEL`` / ``OPENAI_API_KEY``.

Transient failures (connection refused, timeouts, HTTP 429 and 5xx) are retried
with exponential backoff; anything else fails at once with a one-line
`LLMError`. Answers are cached on disk keyed by (model, messages), so a
grounding run is reproducible and works offline once cached.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safemil.costs.knowledge.errors import LLMError
from safemil.files import atomic_write_text

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_RESPONSE_BYTES = 1 << 20  # a chat answer is a few hundred bytes; refuse floods
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}

Message = dict[str, str]


@dataclass
class LLMConfig:
    """Where and how to ask. ``None`` fields are filled from the environment by `resolve`."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3  # extra attempts after the first, for transient failures only
    backoff_s: float = 1.0  # first wait; doubles each retry
    max_backoff_s: float = 30.0
    temperature: float = 0.0
    max_tokens: int = 512
    cache_dir: str | None = None  # None: $SAFEMIL_LLM_CACHE_DIR, else the user cache dir
    use_cache: bool = True

    def resolve(self, env: dict[str, str] | None = None) -> LLMConfig:
        """A copy with settings filled from the environment; checks they make sense."""
        env = os.environ if env is None else env

        def pick(value, *names):
            if value:
                return value
            for n in names:
                if env.get(n):
                    return env[n]
            return None

        out = LLMConfig(**self.__dict__)
        out.base_url = pick(self.base_url, "SAFEMIL_LLM_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_BASE")
        out.base_url = (out.base_url or DEFAULT_BASE_URL).rstrip("/")
        out.model = pick(self.model, "SAFEMIL_LLM_MODEL", "OPENAI_MODEL")
        out.api_key = pick(self.api_key, "SAFEMIL_LLM_API_KEY", "OPENAI_API_KEY")
        out.cache_dir = pick(self.cache_dir, "SAFEMIL_LLM_CACHE_DIR")
        if not out.base_url.startswith(("http://", "https://")):
            raise LLMError(f"LLM base URL must start with http:// or https://, got {out.base_url!r}")
        if not out.model:
            raise LLMError("no LLM model given: pass --model or set SAFEMIL_LLM_MODEL (or OPENAI_MODEL)")
        if out.timeout_s <= 0 or out.max_retries < 0 or out.backoff_s < 0:
            raise LLMError("timeout must be > 0, retries and backoff >= 0")
        return out


def default_cache_dir() -> Path:
    import platformdirs

    env = os.environ.get("SAFEMIL_LLM_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("safemil")) / "llm"


class AnswerCache:
    """One JSON file per (model, messages) key; writes are atomic, unreadable entries are misses."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.dir = Path(directory) if directory else default_cache_dir()

    @staticmethod
    def key(model: str, messages: list[Message]) -> str:
        blob = json.dumps({"model": model, "messages": messages}, sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, model: str, messages: list[Message]) -> str | None:
        p = self._path(self.key(model, messages))
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("model") != model or rec.get("messages") != messages:
            return None
        ans = rec.get("answer")
        return ans if isinstance(ans, str) else None

    def put(self, model: str, messages: list[Message], answer: str) -> None:
        rec = {"model": model, "messages": messages, "answer": answer}
        atomic_write_text(self._path(self.key(model, messages)), json.dumps(rec, indent=1))


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    cached: bool
    attempts: int  # HTTP attempts made (0 on a cache hit)


class ChatClient:
    """Chat completions over HTTP with retries, backoff and the answer cache."""

    def __init__(
        self,
        config: LLMConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,
        env: dict[str, str] | None = None,
    ):
        self.config = (config or LLMConfig()).resolve(env)
        self.cache = AnswerCache(self.config.cache_dir) if self.config.use_cache else None
        self._sleep = sleep
        host = urllib.parse.urlsplit(self.config.base_url).hostname or ""
        # A local server (llama.cpp, vLLM, Ollama) must not be sent through an http_proxy from the env.
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def url(self) -> str:
        return f"{self.config.base_url}/chat/completions"

    def complete(self, messages: list[Message]) -> ChatAnswer:
        """The assistant's reply to ``messages`` (from the cache when this exact question was asked)."""
        model = self.config.model
        assert model is not None
        if self.cache is not None:
            hit = self.cache.get(model, messages)
            if hit is not None:
                return ChatAnswer(hit, cached=True, attempts=0)
        text, attempts = self._post_with_retries(messages)
        if self.cache is not None:
            self.cache.put(model, messages, text)
        return ChatAnswer(text, cached=False, attempts=attempts)

    def _post_with_retries(self, messages: list[Message]) -> tuple[str, int]:
        c = self.config
        body = json.dumps(
            {"model": c.model, "messages": messages, "temperature": c.temperature, "max_tokens": c.max_tokens}
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if c.api_key:
            headers["Authorization"] = f"Bearer {c.api_key}"
        last, last_retry_after = "", None
        for attempt in range(c.max_retries + 1):
            if attempt:
                self._sleep(self._wait(attempt, last_retry_after))
            last_retry_after = None
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with self._opener.open(req, timeout=c.timeout_s) as resp:
                    raw = resp.read(MAX_RESPONSE_BYTES + 1)
            except urllib.error.HTTPError as e:
                detail = _error_detail(e)
                if e.code not in _RETRY_STATUS:
                    raise LLMError(f"LLM endpoint {self.url} answered HTTP {e.code}: {detail}") from None
                last = f"HTTP {e.code}: {detail}"
                last_retry_after = e.headers.get("Retry-After") if e.headers else None
                continue
            except urllib.error.URLError as e:
                reason = e.reason
                if isinstance(reason, TimeoutError):
                    last = f"timed out after {c.timeout_s:g} s"
                else:
                    last = f"unreachable ({reason})"
                continue
            except TimeoutError:
                last = f"timed out after {c.timeout_s:g} s"
                continue
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                last = f"connection failed ({type(e).__name__}: {e})"
                continue
            if len(raw) > MAX_RESPONSE_BYTES:
                raise LLMError(f"response from {self.url} is larger than {MAX_RESPONSE_BYTES} bytes")
            return _parse_reply(raw, self.url), attempt + 1
        raise LLMError(f"LLM endpoint {self.url} failed after {c.max_retries + 1} attempts: {last}")

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        c = self.config
        wait = c.backoff_s * 2 ** (attempt - 1)
        if retry_after:
            try:
                wait = max(wait, float(retry_after))
            except ValueError:
                pass
        return min(wait, c.max_backoff_s)


def _error_detail(e: urllib.error.HTTPError) -> str:
    try:
        raw = e.read(2000).decode("utf-8", "replace")
    except Exception:  # the body is only a courtesy; the status code is the error
        return e.reason or ""
    try:
        msg = json.loads(raw)["error"]
        msg = msg.get("message", msg) if isinstance(msg, dict) else msg
    except (ValueError, KeyError, TypeError):
        msg = raw
    return " ".join(str(msg).split())[:200] or str(e.reason)


def _parse_reply(raw: bytes, url: str) -> str:
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        snippet = " ".join(raw[:200].decode("utf-8", "replace").split())
        raise LLMError(f"malformed chat-completions response from {url}: {snippet!r}") from None
    if not isinstance(content, str):
        raise LLMError(f"chat-completions response from {url} has no text content")
    return content
