"""The serving process's garbage collector (xmlvend.server.heap): what exists when the
server is built is frozen out of collection, the young threshold raised."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from xmlvend.server.heap import OLDER_THRESHOLDS, YOUNG_THRESHOLD, freeze_startup_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_startup_objects_are_frozen_and_later_cycles_still_collected(restored_gc: None) -> None:
    startup = [Node() for _ in range(10)]
    frozen = freeze_startup_heap()
    assert frozen >= len(startup) and gc.get_freeze_count() == frozen
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(n) in tracked for n in startup)  # never scanned again

    later = Node()
    gone = weakref.ref(later)
    del later
    assert gone() is not None  # a cycle: not freed by reference counting
    gc.collect()
    assert gone() is None  # the garbage made after the freeze is still found
