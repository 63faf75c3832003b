"""``held_off``: Python's cyclic collector paused for a bulk step (an import, the map's graph), then back as it was."""

from __future__ import annotations

import gc
import threading

from crm_workspace.data.collector import held_off


def test_the_collector_is_off_inside_and_back_on_after_nested_and_concurrent_holds():
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def other_import():
        with held_off():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=other_import)
    with held_off():
        assert not gc.isenabled()
        with held_off():
            assert not gc.isenabled()
        assert not gc.isenabled()
        worker.start()
        inside.wait(10)
    assert not gc.isenabled()  # the other import still runs
    leave.set()
    worker.join(10)
    assert gc.isenabled()


def test_cycles_made_while_held_off_are_still_collected_afterwards():
    class Node:
        pass

    with held_off():
        node = Node()
        node.self = node
        probe = __import__("weakref").ref(node)
        del node
    gc.collect()
    assert probe() is None


def test_a_collector_turned_off_by_the_application_stays_off():
    gc.disable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with held_off():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        gc.enable()


def test_objects_the_application_froze_stay_frozen():
    keep = [object() for _ in range(10)] + [[]]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with held_off():
            pass
        assert gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    del keep
