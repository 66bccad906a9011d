"""The inventory's reader thread: order, errors and early stops."""

from __future__ import annotations

import threading

import pytest

from assay.errors import SourceError
from assay.inventory.pipeline import prefetch


def test_items_arrive_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_in_the_producer_is_raised_in_the_consumer_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise SourceError("source shop: cannot connect")

    got = []
    with pytest.raises(SourceError, match="cannot connect"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_and_closes_the_producer():
    closed = threading.Event()

    def items():
        try:
            yield from range(1_000_000)
        finally:
            closed.set()  # the source connection would be closed here

    stream = prefetch(items(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert closed.is_set()
    assert not any(t.name == "inventory-read" for t in threading.enumerate())


def test_consumer_exception_stops_the_producer():
    closed = threading.Event()

    def items():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    with pytest.raises(RuntimeError):
        for item in prefetch(items()):
            if item == 5:
                raise RuntimeError("writer failed")
    assert closed.is_set()
