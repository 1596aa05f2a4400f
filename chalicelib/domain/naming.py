"""Dynamic tags in provisioned names: `{SEQUENCE}` and `{SEQUENCE:n}` (zero-padded to n digits).

The sequence value comes from the pool's `provision_vm_name_next_value`, advanced atomically by the
store, so two desktops never get the same number.
"""

from __future__ import annotations

import re

SEQUENCE_TAG = re.compile(r"\{SEQUENCE(?::(\d))?\}")
ANY_TAG = re.compile(r"\{[^{}]*\}")


def has_sequence(template: str) -> bool:
    return SEQUENCE_TAG.search(template) is not None


def template_problems(template: str) -> list[str]:
    """What is wrong with a name template, in words an admin understands (empty list: fine)."""
    problems = []
    for tag in ANY_TAG.findall(template):
        if not SEQUENCE_TAG.fullmatch(tag):
            problems.append(f"unknown tag {tag}: use {{SEQUENCE}} or {{SEQUENCE:n}} with n from 1 to 9")
    if SEQUENCE_TAG.search(template) and SEQUENCE_TAG.search(template).group(1) == "0":
        problems.append("{SEQUENCE:0} pads to no digits: use 1 to 9")
    return problems


def render(template: str, sequence: int) -> str:
    """The name for one desktop; without a tag the template is used as is."""

    def replace(match: re.Match[str]) -> str:
        width = int(match.group(1) or 0)
        return str(sequence).zfill(width)

    return SEQUENCE_TAG.sub(replace, template)
