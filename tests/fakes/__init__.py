"""In-memory stand-ins for the broker's ports, for unit tests."""

from tests.fakes.cloud import DEFAULT_INVENTORY, FakeVolume, InMemoryCloud

__all__ = ["DEFAULT_INVENTORY", "FakeVolume", "InMemoryCloud"]
