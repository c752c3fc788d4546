"""Errors of the knowledge-grounded cost; all are `SafemilError`s, so the CLI prints one line."""

from safemil.errors import SafemilError


class ExpressionError(SafemilError):
    """A cost expression is outside the language, too big, or ill-typed. Names the offending part."""


class LLMError(SafemilError):
    """The chat-completions endpoint is unreachable, refused the request, or answered nonsense."""


class GroundingError(SafemilError):
    """The model never produced an acceptable expression within the allowed repairs."""


class CostInputError(SafemilError):
    """Observations handed to a knowledge cost have the wrong shape or type."""


class CostFileError(SafemilError):
    """A saved knowledge-cost file is missing, unreadable or not in the expected format."""
