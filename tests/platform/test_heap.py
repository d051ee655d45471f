"""The garbage collector keeps the app's start-up objects out of its full passes (socialforce/platform/heap.py)."""
import gc

import pytest

from socialforce.platform import heap
from socialforce.platform.app import create_app


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_served_app_freezes_its_start_up_objects_and_a_test_app_does_not(unfrozen):
    create_app("testing")
    assert gc.get_freeze_count() == 0
    create_app("testing", GC_FREEZE_AT_START=True)
    assert gc.get_freeze_count() > 0
    garbage = [[]]
    garbage[0].append(garbage)  # a cycle made after start-up is still collected
    del garbage
    assert gc.collect() > 0


def test_an_import_keeps_the_start_up_freeze_or_leaves_nothing_frozen(unfrozen):
    with heap.frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    heap.freeze_startup()
    frozen = gc.get_freeze_count()
    with heap.frozen_heap():
        pass
    assert gc.get_freeze_count() >= frozen
