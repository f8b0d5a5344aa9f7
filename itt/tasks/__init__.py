"""Task kinds: one module per kind, the only place kind-specific code lives (see ``itt.tasks.base``).

A new kind is a module with a ``Task`` subclass, registered in ``KINDS`` (or, from outside the
package, with ``register``); ``task.kind`` in a task config (or a dataset spec's ``kind``) names it.
"""

from __future__ import annotations

from itt.errors import ConfigError
from itt.stages import not_a_kind
from itt.tasks.base import META_COLUMNS, RawColumns, Task
from itt.tasks.extractive_qa import ExtractiveQA
from itt.tasks.multiple_choice import MultipleChoice
from itt.tasks.retrieval import Retrieval
from itt.tasks.sequence_classification import SequenceClassification
from itt.tasks.sequence_regression import SequenceRegression
from itt.tasks.token_classification import TokenClassification

KINDS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Make ``cls`` a task kind under ``cls.kind`` (usable as a class decorator)."""
    KINDS[cls.kind] = cls
    return cls


for _cls in (SequenceClassification, SequenceRegression, TokenClassification, ExtractiveQA, MultipleChoice, Retrieval):
    register(_cls)


def kind_class(kind: str, key: str = "task.kind") -> type[Task]:
    """A registered kind by name, or a ``Task`` subclass by dotted import path (``mypkg.kinds.MultiLabel``):
    kinds can live in the user's own code without editing this package. ``key``: where the kind was given."""
    if kind in KINDS:
        return KINDS[kind]
    if "." in kind:
        from hydra.utils import get_class  # noqa: PLC0415

        try:
            cls = get_class(kind)
        except Exception as exc:  # noqa: BLE001 (any import failure is the same mistake for the user)
            raise ConfigError(f"{key}={kind!r} cannot be imported ({type(exc).__name__}); valid: "
                              f"{', '.join(KINDS)}, or the dotted path of a Task subclass") from exc
        if isinstance(cls, type) and issubclass(cls, Task):
            return cls
    raise not_a_kind(key, kind, KINDS)


def get_task(kind: str, primary_metric: str | None = None, options: dict | None = None, spec=None) -> Task:
    """The kind's Task for one dataset (``spec``, optional) with the given options."""
    return kind_class(kind)(primary_metric, options, spec)


__all__ = ["KINDS", "META_COLUMNS", "RawColumns", "Task", "get_task", "register"]
