"""Grounding: a plain-language rule + the task's observation schema -> a checked `KnowledgeCost`.

The ``openai`` backend asks a chat model: the prompt lists the observation
fields (name, index, meaning, unit) and the language, the answer is untrusted
text from which one expression is extracted and parsed by the allow-list; if
extraction or parsing fails, the error goes back to the model, up to
``max_repairs`` times. The ``static`` backend takes the expression from the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from safemil.costs.knowledge.cost import KnowledgeCost
from safemil.costs.knowledge.errors import ExpressionError, GroundingError
from safemil.costs.knowledge.language import MAX_CHARS, parse_expression
from safemil.costs.knowledge.llm import AnswerCache, ChatClient, LLMConfig, Message
from safemil.errors import ConfigError
from safemil.tasks import TaskSpec, get_task

BACKENDS = ("static", "openai")

SYSTEM_PROMPT = """\
You translate a plain-language safety rule for a robot into a cost expression.
The expression is evaluated on one observation vector and must be TRUE exactly in the UNSAFE states.

Language (a tiny subset of Python expression syntax; nothing else is accepted):
- numbers (e.g. 3.2, -0.5, 1e-2) and the observation field names listed by the user; obs[i] is entry i
- arithmetic: + - * /, and x ** k with a constant k between -4 and 4
- comparisons: < <= > >= (chains like 0 < x < 1 are fine); logic: and, or, not
- functions: abs(x), sqrt(x), min(a, b, ...), max(a, b, ...), norm(a, b, ...) (Euclidean norm), clip(x, lo, hi)
- conditional: a if condition else b, or where(condition, a, b)
No other names, functions, attributes (no np.), strings, lists, lambdas or statements.

Answer with the expression alone inside one fenced block, for example:
```expr
x_velocity > 1.5
```"""


def build_prompt(task: TaskSpec, rule: str) -> list[Message]:
    """The chat messages for ``rule`` on ``task``: the language, then the schema and the rule."""
    rows = "\n".join(f"- {f.name} (obs[{f.index}]): {f.meaning} [{f.unit}]" for f in task.schema)
    kind = "a Safety-Gymnasium navigation task" if task.kind == "navigation" else f"MuJoCo {task.gym_id}"
    user = (
        f"Task: {task.name} ({kind}); an observation has {task.obs_dim} entries:\n"
        f"{rows}\n\n"
        f"Safety rule: {rule.strip()}\n\n"
        "Write the expression that is true in the states this rule calls unsafe."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def repair_message(error: str) -> Message:
    return {
        "role": "user",
        "content": (
            f"That answer was rejected: {error}\n"
            "Reply with one corrected expression in the language above, inside one ```expr fenced block."
        ),
    }


_FENCE = re.compile(r"```(?:[ \t]*[A-Za-z0-9_+-]*[ \t]*\n)?(.*?)```", re.DOTALL)
_LABEL = re.compile(r"[ \t]*(?:expression|expr|cost|answer)[ \t]*[:=]", re.IGNORECASE)
# Answers are untrusted and may be long: everything here is linear in their length
# (no regex whose backtracking could be quadratic on crafted input).


def _drop_think(answer: str) -> str:
    """Remove reasoning models' <think>...</think> scratchpads."""
    low, out, i = answer.lower(), [], 0
    while True:
        s = low.find("<think>", i)
        e = low.find("</think>", s) if s >= 0 else -1
        if e < 0:
            out.append(answer[i:])
            return "".join(out)
        out.append(answer[i:s])
        i = e + len("</think>")


def extract_expression(answer: str) -> str:
    """Pull the one expression out of a model's answer (a fenced block, a labelled line, or a bare line).

    Raises `ExpressionError` saying what is wrong, which becomes the repair message.
    """
    if not isinstance(answer, str) or not answer.strip():
        raise ExpressionError("the answer is empty")
    if len(answer) > 20 * MAX_CHARS:
        raise ExpressionError(f"the answer is too long ({len(answer)} characters)")
    answer = _drop_think(answer)
    blocks = [b.strip() for b in _FENCE.findall(answer) if b.strip()]
    if len(blocks) > 1:
        raise ExpressionError(f"the answer has {len(blocks)} code blocks; give exactly one expression")
    if blocks:
        text = blocks[0]
    else:
        lines = [ln.strip() for ln in answer.splitlines() if ln.strip()]
        labelled = [ln[m.end() :].strip() for ln in lines if (m := _LABEL.match(ln)) and ln[m.end() :].strip()]
        if len(labelled) == 1:
            text = labelled[0]
        elif len(lines) == 1:
            text = lines[0]
        else:
            raise ExpressionError("no expression found: put the expression alone inside one ```expr fenced block")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) != 1:
        raise ExpressionError(f"the code block has {len(lines)} lines; it must hold exactly one expression")
    return lines[0].strip().strip("`").strip()


@dataclass(frozen=True)
class Attempt:
    answer: str
    expression: str | None  # what was extracted, if anything
    error: str | None  # why it was rejected; None for the accepted one
    cached: bool = False


@dataclass
class GroundingResult:
    cost: KnowledgeCost
    backend: str
    rule: str
    model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def expression(self) -> str:
        return self.cost.expression


def ground(
    task: str,
    rule: str,
    backend: str = "static",
    *,
    llm: LLMConfig | None = None,
    client: ChatClient | None = None,
    max_repairs: int = 2,
    margin: float = 0.0,
    softness: float = 0.0,
) -> GroundingResult:
    """Turn ``rule`` into a `KnowledgeCost` for ``task``.

    ``static``: ``rule`` is the expression itself. ``openai``: ``rule`` is plain language,
    sent with the schema to the chat endpoint configured by ``llm`` (or ``client``).
    """
    spec = get_task(task)
    if backend not in BACKENDS:
        raise ConfigError(f"unknown grounding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not isinstance(rule, str) or not rule.strip():
        raise ConfigError("the rule is empty")
    if max_repairs < 0:
        raise ConfigError(f"max_repairs must be >= 0, got {max_repairs}")
    prov = {"backend": backend, "rule": rule.strip()}
    if backend == "static":
        cost = KnowledgeCost(spec.name, rule, margin, softness, provenance=prov)
        return GroundingResult(cost, backend, rule.strip(), attempts=[Attempt(rule, rule.strip(), None)])

    client = client or ChatClient(llm)
    messages = build_prompt(spec, rule)
    attempts: list[Attempt] = []
    for _ in range(max_repairs + 1):
        reply = client.complete(messages)
        expr = None
        try:
            expr = extract_expression(reply.text)
            parse_expression(expr, spec.schema)
            cost = KnowledgeCost(spec.name, expr, margin, softness)
        except ExpressionError as e:
            attempts.append(Attempt(reply.text, expr, str(e), reply.cached))
            messages = [*messages, {"role": "assistant", "content": reply.text}, repair_message(str(e))]
            continue
        attempts.append(Attempt(reply.text, expr, None, reply.cached))
        cost.provenance = {
            **prov,
            "model": client.config.model,
            "answers": len(attempts),
            "answer": reply.text,
            "prompt_key": AnswerCache.key(client.config.model, build_prompt(spec, rule)),
        }
        return GroundingResult(cost, backend, rule.strip(), client.config.model, attempts)
    raise GroundingError(
        f"the model gave no acceptable expression in {len(attempts)} answers; last error: {attempts[-1].error}"
    )
