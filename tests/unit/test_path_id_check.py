"""One path-id check (docs/design.md): the Router refuses an update whose body names another record than
its path; no service or route repeats the check."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.api.framework import _check_body_id
from chalicelib.domain.errors import BadData

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"


def test_every_update_whose_body_has_an_id_is_checked_by_the_router() -> None:
    import app  # noqa: F401 - declares every route
    from chalicelib.api.framework import OPERATIONS

    with_id = [op for op in OPERATIONS if op.method == "PUT" and op.body is not None
               and "id" in op.body.model_fields and op.path.endswith("{id}")]
    assert len(with_id) >= 10
    assert [op.path for op in with_id if not op.body_id_matches_path] == []


def test_the_check_names_the_field() -> None:
    class Body:
        id = 7

    _check_body_id(Body(), 7)
    with pytest.raises(BadData) as refused:
        _check_body_id(Body(), 8)
    assert [e.path for e in refused.value.errors] == ["/body/id"]


def test_no_copy_of_the_check_is_left() -> None:
    copies = [str(p.relative_to(CHALICELIB)) for p in CHALICELIB.rglob("*.py")
              if '"/body/id"' in p.read_text()]
    assert copies == ["api/framework.py"]
