"""Request counts: arithmetic of readings and the counter itself."""

from __future__ import annotations

import threading

from chalicelib.clouds.request_counts import INVENTORY, TOKEN, RequestCounter, RequestCounts


def test_a_reading_splits_token_inventory_and_services() -> None:
    counter = RequestCounter()
    for category in [TOKEN, INVENTORY, INVENTORY, "compute", "compute", "network"]:
        counter.record(category)
    reading = counter.reading()
    assert (reading.token, reading.inventory, reading.other, reading.total) == (1, 2, 3, 6)
    assert reading.by_service == {"compute": 2, "network": 1}


def test_subtracting_readings_gives_what_happened_in_between() -> None:
    earlier = RequestCounts(token=1, inventory=6, by_service={"compute": 2})
    later = RequestCounts(token=1, inventory=6, by_service={"compute": 3, "network": 4})
    assert (later - earlier).as_dict() == {
        "total": 5,
        "token": 0,
        "inventory": 0,
        "other": 5,
        "service:compute": 1,
        "service:network": 4,
    }


def test_readings_do_not_change_after_the_fact_and_reset_clears() -> None:
    counter = RequestCounter()
    counter.record("compute")
    reading = counter.reading()
    counter.record("compute")
    assert reading.total == 1
    counter.reset()
    assert counter.reading().total == 0


def test_concurrent_records_are_all_counted() -> None:
    counter = RequestCounter()

    def record_many() -> None:
        for _ in range(1000):
            counter.record("compute")

    threads = [threading.Thread(target=record_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.reading().by_service == {"compute": 8000}
