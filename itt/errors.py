"""User-facing errors: one line that names the file, key or value and what would be valid.

Everything a user can get wrong (config, data, hub access) raises an ``ITTError``; the entry points
print it as a single ``error: ...`` line and exit non-zero. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import re


class ITTError(Exception):
    """A mistake in the user's input or environment, explained in one line."""

    exit_code = 2


class ConfigError(ITTError):
    """A config key or value that cannot work."""


class DataError(ITTError):
    """A dataset file, column, label or split that cannot work."""


class HubUnreachableError(ITTError):
    """A hub model or dataset that is not cached and cannot be downloaded."""


class TrainingFailed(ITTError):
    """A run that started but could not finish (NaN loss, ...). Recorded in the ledger."""

    exit_code = 1


def one_line(message: str) -> str:
    """Collapse a (possibly multi-line) library message into one readable line."""
    text = re.sub(r"\s*\n\s*", "; ", str(message).strip())
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"(; )+", "; ", text).strip("; ")
