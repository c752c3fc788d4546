"""Knowledge-grounded cost (PROCO, first half): plain-language safety rules -> a checked cost function.

Untrusted text (an LLM's answer, a saved file, a user's rule) is parsed by an
allow-list into a small expression language over the task's observation schema
and compiled to a vectorised numpy / torch function; it is never executed.
"""

from safemil.costs.knowledge.check import CheckReport, check_cost
from safemil.costs.knowledge.compiler import CompiledCost
from safemil.costs.knowledge.cost import KnowledgeCost, KnowledgeCostConfig
from safemil.costs.knowledge.defaults import DEFAULTS, KnowledgeDefault, default_rule
from safemil.costs.knowledge.errors import (
    CostFileError,
    CostInputError,
    ExpressionError,
    GroundingError,
    LLMError,
)
from safemil.costs.knowledge.grounding import (
    BACKENDS,
    GroundingResult,
    build_prompt,
    extract_expression,
    ground,
)
from safemil.costs.knowledge.language import FUNCTIONS, Parsed, parse_expression
from safemil.costs.knowledge.llm import AnswerCache, ChatClient, LLMConfig

__all__ = [
    "BACKENDS",
    "DEFAULTS",
    "FUNCTIONS",
    "AnswerCache",
    "ChatClient",
    "CheckReport",
    "CompiledCost",
    "CostFileError",
    "CostInputError",
    "ExpressionError",
    "GroundingError",
    "GroundingResult",
    "KnowledgeCost",
    "KnowledgeCostConfig",
    "KnowledgeDefault",
    "LLMConfig",
    "LLMError",
    "Parsed",
    "build_prompt",
    "check_cost",
    "default_rule",
    "extract_expression",
    "ground",
    "parse_expression",
]
