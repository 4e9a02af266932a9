"""Settings as they may be shown: secrets and passwords inside URLs replaced by ``***``.

``fireflytx config show`` and the errors a settings file causes print values; none of them may
print a password, wherever it sits.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from ._persistence._config import mask_url

__all__ = ["MASK", "masked"]

MASK = "***"
_SECRET_WORDS = ("password", "secret", "token", "credential")
_USERINFO = re.compile(r":[^:@/\s]+@")


def masked(key: str, value: Any) -> Any:
    """``value`` fit to show under ``key``: secrets masked, recursively for mappings and lists."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: masked(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(key, v) for v in value]
    if value is not None and any(word in key.lower() for word in _SECRET_WORDS):
        return MASK
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, str):
        # Not a URL (one that failed validation, say) but it may still hold user:password@host.
        return _USERINFO.sub(":" + MASK + "@", value)
    return value
