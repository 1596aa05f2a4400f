"""Typed entities, one module per kind; the base in `base.py` (docs/design.md, "Typed entities")."""
