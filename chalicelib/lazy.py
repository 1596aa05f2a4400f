"""Modules imported on first use, so that importing the HTTP handler module stays cheap.

A Lambda cold start pays for every module `app.py` imports. Route modules therefore name the services
and schemas they call through `lazy_module`; a request imports only what its own route needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for a module until an attribute is read, then imports it (under Python's import lock)."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}{' (loaded)' if self._module else ''}>"


def lazy_module(name: str) -> Any:
    """A stand-in for `import name` whose import happens on first attribute access."""
    return LazyModule(name)
