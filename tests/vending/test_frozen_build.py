"""vending.frozen_build: the object a builder makes is the one ``__init__`` makes, and a
class it could not build faithfully is refused when the builder is made."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from vending.frozen_build import frozen_builder


@dataclass(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)


def test_every_field_given_makes_the_object_init_makes() -> None:
    build = frozen_builder(Point)
    made = build({"x": 1, "y": 2, "tags": ("a",)})
    assert type(made) is Point
    assert made == Point(1, 2, ("a",))
    assert hash(made) == hash(Point(1, 2, ("a",)))
    assert repr(made) == "Point(x=1, y=2, tags=('a',))"
    with pytest.raises(FrozenInstanceError):
        made.x = 5  # type: ignore[misc]


def test_other_names_go_through_init() -> None:
    build = frozen_builder(Point)
    assert build({"x": 1}) == Point(1, 0, ())  # defaults filled by __init__
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        build({"x": 1, "y": 2, "tags": (), "z": 3})
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        build({"y": 2, "tags": ()})


def test_classes_init_must_build_are_refused() -> None:
    @dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x >= 0

    @dataclass(frozen=True, slots=True)
    class Slotted:
        x: int

    @dataclass(frozen=True)
    class Derived:
        x: int
        double: int = field(init=False)

    @dataclass
    class Mutable:
        x: int

    for cls in (Checked, Slotted, Derived, Mutable):
        with pytest.raises(TypeError):
            frozen_builder(cls)
