"""OpenAI's wire format for `marshalike serve`: request validation and response shapes.

Plain values in, plain values out: no HTTP, no engine, no torch, so every rule can be tested
alone. A rejected request is an `APIError`, which the HTTP layer sends as OpenAI's
`{"error": {"message", "type", "param", "code"}}` body.

Extensions beyond OpenAI's API: `top_k` (0 turns it off; -1 is accepted for vLLM clients).
Parameters the engine cannot honour (logprobs, echo, penalties, tools …) are refused rather
than silently ignored, so a client never believes it got something it did not.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

MAX_N = 16
MAX_STOP = 16
# Prompts one completions request may hold: each is tokenized and kept until the request
# ends, so an array of millions of one-character prompts would take gigabytes.
MAX_PROMPTS = 64
# OpenAI's default for the completions API.
DEFAULT_COMPLETION_MAX_TOKENS = 16
# OpenAI's chat API has no default limit, but the engine preallocates its KV cache for
# prompt + max_tokens per candidate, so "the rest of a 32k context" would reserve gigabytes.
DEFAULT_CHAT_MAX_TOKENS = 1024
# The most KV-cache positions one request may take, n * (prompt + max_tokens): the engine
# reserves them before the first token, so without a bound one request (n 16, max_tokens
# 32000) would reserve gigabytes. `create_server`'s `max_request_tokens` overrides it.
MAX_REQUEST_TOKENS = 65536
# The seeds the engine's generators take (`torch.Generator.manual_seed`): a signed or an
# unsigned 64-bit integer.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1
CHAT_ROLES = ("system", "developer", "user", "assistant")

Endpoint = Literal["completion", "chat"]


class APIError(Exception):
    """A request the server refuses, with the HTTP status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.kind, "param": self.param}
        return {"error": {**error, "code": self.code}}


@dataclass(frozen=True)
class Sampling:
    """How to sample; `max_tokens` None means "the endpoint's default"."""

    n: int = 1
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """A validated completions or chat request; `prompts` holds one text per prompt for
    completions, `messages` the conversation for chat."""

    endpoint: Endpoint
    model: str
    sampling: Sampling
    prompts: tuple[str, ...] = ()
    messages: tuple[dict[str, str], ...] = ()
    stream: bool = False
    include_usage: bool = False


@dataclass(frozen=True)
class Choice:
    index: int
    text: str
    finish_reason: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def as_json(self) -> dict[str, int]:
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }


# --- request parsing ---------------------------------------------------------------------

_JSON_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "an object",
    type(None): "null",
}

# parameter -> values that mean "not used"; anything else is refused
_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "logprobs": (None, False, 0),
    "top_logprobs": (None, 0),
    "echo": (None, False),
    "suffix": (None, ""),
    "logit_bias": (None, {}),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "tools": (None, []),
    "functions": (None, []),
    "tool_choice": (None, "none", "auto"),
    # JSON mode and JSON schemas need constrained decoding, which the engine does not do.
    "response_format": (None, {"type": "text"}),
}
# A lone UTF-16 surrogate: JSON can spell one (\ud800), UTF-8 cannot, nor can a tokenizer.
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        message = f"the request body is not valid JSON ({_json_fault(exc)})"
        raise APIError(400, message, code="invalid_json") from None
    if not isinstance(body, dict):
        found = _type_name(body)
        raise APIError(400, f"the request body must be a JSON object, not {found}")
    return body


def _json_fault(exc: ValueError | RecursionError) -> str:
    """What is wrong with a body `json.loads` refused, in a few words (the exceptions' own
    texts are long, or name Python internals)."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, RecursionError):
        return "arrays or objects nested too deeply"
    # The only other ValueError: an integer longer than Python converts.
    return f"an integer with more than {sys.get_int_max_str_digits()} digits"


def parse_request(body: dict[str, Any], endpoint: Endpoint) -> GenerationRequest:
    """Validate a completions (`endpoint="completion"`) or chat request body."""
    model = _get(body, "model", str, required=True)
    _refuse_unsupported(body)
    stream = _get(body, "stream", bool, default=False)
    common = {
        "endpoint": endpoint,
        "model": model,
        "sampling": _parse_sampling(body),
        "stream": stream,
        "include_usage": _parse_stream_options(body, stream),
    }
    if endpoint == "chat":
        return GenerationRequest(messages=_parse_messages(body), **common)
    return GenerationRequest(prompts=_parse_prompts(body), **common)


def _parse_sampling(body: dict[str, Any]) -> Sampling:
    return Sampling(
        n=_bounded(body, "n", 1, MAX_N, default=1),
        max_tokens=_parse_max_tokens(body),
        temperature=_number(body, "temperature", 0.0, 2.0, default=1.0),
        top_p=_parse_top_p(body),
        top_k=max(0, _bounded(body, "top_k", -1, None, default=0)),
        stop=_parse_stop(body),
        seed=_bounded(body, "seed", SEED_MIN, SEED_MAX, default=None),
    )


def _parse_max_tokens(body: dict[str, Any]) -> int | None:
    given = [name for name in ("max_tokens", "max_completion_tokens") if body.get(name) is not None]
    if len(given) == 2 and body["max_tokens"] != body["max_completion_tokens"]:
        message = "'max_tokens' and 'max_completion_tokens' disagree; send only one"
        raise APIError(400, message, param="max_tokens", code="invalid_value")
    if not given:
        return None
    return _bounded(body, given[0], 1, None, default=None)


def _parse_top_p(body: dict[str, Any]) -> float:
    top_p = _number(body, "top_p", 0.0, 1.0, default=1.0)
    if top_p == 0.0:
        raise _invalid("top_p", f"'top_p' must be greater than 0 and at most 1, got {top_p}")
    return top_p


def _parse_stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = _get(body, "stop", (str, list), default=None)
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if len(stops) > MAX_STOP:
        raise _invalid("stop", f"'stop' takes at most {MAX_STOP} strings, got {len(stops)}")
    for i, item in enumerate(stops):
        if not isinstance(item, str):
            message = f"'stop[{i}]' must be a string, not {_type_name(item)}"
            raise APIError(400, message, param="stop", code="invalid_type")
        if not item:
            raise _invalid("stop", "'stop' strings must not be empty")
        _check_text(item, f"stop[{i}]" if isinstance(stop, list) else "stop", "stop")
    return tuple(stops)


def _parse_stream_options(body: dict[str, Any], stream: bool) -> bool:
    options = _get(body, "stream_options", dict, default=None)
    if options is None:
        return False
    if not stream:
        message = "'stream_options' is only allowed when 'stream' is true"
        raise _invalid("stream_options", message)
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        message = f"'stream_options.include_usage' must be a boolean, not {_type_name(include)}"
        raise APIError(400, message, param="stream_options", code="invalid_type")
    return include


def _parse_prompts(body: dict[str, Any]) -> tuple[str, ...]:
    prompt = _get(body, "prompt", (str, list), required=True)
    if isinstance(prompt, str):
        _check_text(prompt, "prompt", "prompt")
        return (prompt,)
    if not prompt:
        raise _invalid("prompt", "'prompt' must not be an empty array")
    if len(prompt) > MAX_PROMPTS:
        message = f"'prompt' takes at most {MAX_PROMPTS} prompts, got {len(prompt)}"
        raise _invalid("prompt", message)
    for i, item in enumerate(prompt):
        if not isinstance(item, str):
            message = f"'prompt[{i}]' must be a string (token-id prompts are not supported)"
            raise APIError(400, message, param="prompt", code="invalid_type")
        _check_text(item, f"prompt[{i}]", "prompt")
    return tuple(prompt)


def _parse_messages(body: dict[str, Any]) -> tuple[dict[str, str], ...]:
    messages = _get(body, "messages", list, required=True)
    if not messages:
        raise _invalid("messages", "'messages' must contain at least one message")
    return tuple(_parse_message(i, message) for i, message in enumerate(messages))


def _parse_message(i: int, message: Any) -> dict[str, str]:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        found = _type_name(message)
        raise APIError(400, f"'{where}' must be an object, not {found}", param=where)
    role = message.get("role")
    if role not in CHAT_ROLES:
        roles = ", ".join(CHAT_ROLES)
        # A container is named by its type: written out, a deeply nested one could exceed
        # the recursion limit that reading it stayed within.
        found = json.dumps(role) if isinstance(role, str | int | float | None) else _type_name(role)
        message_text = f"'{where}.role' must be one of {roles}; got {found}"
        raise _invalid(f"{where}.role", message_text)
    # Chat templates know "system"; "developer" is OpenAI's newer name for it.
    role = "system" if role == "developer" else role
    content = _message_text(where, message.get("content"), role)
    _check_text(content, f"{where}.content", f"{where}.content")
    return {"role": role, "content": content}


def _message_text(where: str, content: Any, role: str) -> str:
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":
        return ""
    if isinstance(content, list):
        values = [part.get("text") for part in content if isinstance(part, dict)]
        texts = [text for text in values if isinstance(text, str)]
        if len(texts) == len(content):
            return "".join(texts)
        message = f"'{where}.content' parts must all be text parts ({{'type': 'text', 'text'}})"
        raise APIError(400, message, param=f"{where}.content", code="invalid_type")
    found = _type_name(content)
    message = f"'{where}.content' must be a string or an array of text parts, not {found}"
    raise APIError(400, message, param=f"{where}.content", code="invalid_type")


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name, unused in _UNSUPPORTED.items():
        if name in body and not any(_same(body[name], value) for value in unused):
            message = f"'{name}' is not supported by this server"
            raise APIError(400, message, param=name, code="unsupported_parameter")
    best_of = body.get("best_of")
    if best_of is not None and best_of != body.get("n", 1):
        message = "'best_of' is not supported by this server"
        raise APIError(400, message, param="best_of", code="unsupported_parameter")


def _check_text(text: str, where: str, param: str) -> None:
    """Refuse text that UTF-8 cannot encode (a lone surrogate), which the tokenizer would
    fail on."""
    found = _SURROGATE.search(text)
    if found is not None:
        message = (
            f"'{where}' is not valid Unicode text: it holds a lone surrogate "
            f"(U+{ord(found.group()):04X}) at character {found.start()}"
        )
        raise _invalid(param, message)


def _same(value: Any, unused: Any) -> bool:
    # 0 == False in Python; a JSON `false` must not pass for a `0` and vice versa.
    return type(value) is type(unused) and value == unused or value is unused is None


# --- typed field access ------------------------------------------------------------------


def _get(
    body: dict[str, Any],
    name: str,
    types: type | tuple[type, ...],
    *,
    default: Any = None,
    required: bool = False,
) -> Any:
    if body.get(name) is None:
        if required:
            message = f"missing required parameter '{name}'"
            raise APIError(400, message, param=name, code="missing_required_parameter")
        return default
    value = body[name]
    wanted = types if isinstance(types, tuple) else (types,)
    # bool is an int in Python, never in JSON
    if isinstance(value, bool) != (bool in wanted) or not isinstance(value, wanted):
        # JSON has one number type: "an integer or a number" would read oddly
        named = [t for t in wanted if not (t is int and float in wanted)]
        expected = " or ".join(_JSON_TYPE_NAMES[t] for t in named)
        message = f"'{name}' must be {expected}, not {_type_name(value)}"
        raise APIError(400, message, param=name, code="invalid_type")
    return value


def _bounded(
    body: dict[str, Any], name: str, low: int, high: int | None, *, default: int | None
) -> Any:
    value = _get(body, name, int, default=default)
    if value is None:
        return None
    if high is not None and not low <= value <= high:
        raise _invalid(name, f"'{name}' must be between {low} and {high}, got {value}")
    if value < low:
        raise _invalid(name, f"'{name}' must be at least {low}, got {value}")
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float, *, default: float) -> float:
    value = _get(body, name, (int, float), default=default)
    if not low <= value <= high:
        raise _invalid(name, f"'{name}' must be between {low:g} and {high:g}, got {value}")
    return float(value)


def _invalid(param: str, message: str) -> APIError:
    return APIError(400, message, param=param, code="invalid_value")


def _type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


# --- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseHeader:
    """What every body and chunk of one response shares."""

    id: str
    created: int
    model: str
    endpoint: Endpoint

    @classmethod
    def new(cls, endpoint: Endpoint, model: str) -> ResponseHeader:
        prefix = "chatcmpl" if endpoint == "chat" else "cmpl"
        return cls(f"{prefix}-{uuid.uuid4().hex}", int(time.time()), model, endpoint)

    def fields(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}


def models_response(model: str, created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_card(model, created)]}


def model_card(model: str, created: int) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": created, "owned_by": "marshalike"}


def full_response(head: ResponseHeader, choices: list[Choice], usage: Usage) -> dict[str, Any]:
    if head.endpoint == "chat":
        body = head.fields("chat.completion")
        body["choices"] = [_chat_choice(choice) for choice in choices]
    else:
        body = head.fields("text_completion")
        body["choices"] = [
            _text_choice(choice.index, choice.text, choice.finish_reason) for choice in choices
        ]
    body["usage"] = usage.as_json()
    return body


def _chat_choice(choice: Choice) -> dict[str, Any]:
    message = {"role": "assistant", "content": choice.text}
    return {
        "index": choice.index,
        "message": message,
        "logprobs": None,
        "finish_reason": choice.finish_reason,
    }


def _text_choice(index: int, text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}


def start_chunk(head: ResponseHeader, index: int) -> dict[str, Any] | None:
    """The chunk that opens choice `index` of a stream (chat announces the role)."""
    if head.endpoint != "chat":
        return None
    return _chat_chunk(head, index, {"role": "assistant", "content": ""}, None)


def delta_chunk(head: ResponseHeader, index: int, text: str) -> dict[str, Any]:
    if head.endpoint == "chat":
        return _chat_chunk(head, index, {"content": text}, None)
    return _text_chunk(head, index, text, None)


def finish_chunk(head: ResponseHeader, index: int, finish_reason: str) -> dict[str, Any]:
    if head.endpoint == "chat":
        return _chat_chunk(head, index, {}, finish_reason)
    return _text_chunk(head, index, "", finish_reason)


def usage_chunk(head: ResponseHeader, usage: Usage) -> dict[str, Any]:
    """The last chunk when the client asked for `stream_options.include_usage`."""
    obj = "chat.completion.chunk" if head.endpoint == "chat" else "text_completion"
    return {**head.fields(obj), "choices": [], "usage": usage.as_json()}


def _chat_chunk(
    head: ResponseHeader, index: int, delta: dict[str, str], finish_reason: str | None
) -> dict[str, Any]:
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return {**head.fields("chat.completion.chunk"), "choices": [choice]}


def _text_chunk(
    head: ResponseHeader, index: int, text: str, finish_reason: str | None
) -> dict[str, Any]:
    return {**head.fields("text_completion"), "choices": [_text_choice(index, text, finish_reason)]}
