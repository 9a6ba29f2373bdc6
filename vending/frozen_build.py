"""Frozen dataclasses built without their field-by-field ``__init__``.

Why: a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
(about 0.25 us a field). The sale path builds records of twenty-odd fields several times
per sale (a sale, a meter record and its changed copies), so that alone was a visible part
of a sale's own CPU. For a class with no ``__slots__``, no ``__post_init__`` and every field
set by ``__init__``, filling a new object's ``__dict__`` with every field gives the very
object ``__init__`` would; :func:`frozen_builder` checks that once, for the class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def frozen_builder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    """A function making ``cls(**values)``: directly when ``values`` names every field
    (nothing to default, convert or check), else through ``cls`` itself (which raises for
    a missing or unknown field as usual)."""
    if not (is_dataclass(cls) and cls.__dataclass_params__.frozen):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    if "__slots__" in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has __slots__ or __post_init__: build it by its __init__")
    if any(not f.init for f in fields(cls)):
        raise TypeError(f"{cls.__name__} has fields its __init__ does not set")
    names = frozenset(f.name for f in fields(cls))
    new = object.__new__

    def build(values: dict[str, Any]) -> T:
        if values.keys() != names:
            return cls(**values)
        made = new(cls)
        made.__dict__.update(values)
        return made  # type: ignore[no-any-return]

    return build


__all__ = ["frozen_builder"]
