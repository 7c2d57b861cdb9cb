"""A served process freezes what start-up built; garbage made later is still collected."""

from __future__ import annotations

import gc
import weakref

from onewindow.app import freeze_start_up_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector can free it


def test_the_start_up_heap_is_frozen_and_later_cycles_are_still_collected():
    survivor = _Node()  # made before the freeze: start-up's objects
    try:
        freeze_start_up_heap()
        assert gc.get_freeze_count() > 0
        later = _Node()
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None  # a cycle made after start-up is freed as before
        assert gc.get_freeze_count() > 0 and survivor.me is survivor  # frozen, not freed
    finally:
        gc.unfreeze()
