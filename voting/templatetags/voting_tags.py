"""Template helpers of the officials' UI."""

from __future__ import annotations

from typing import Any

from django import template

from ..access import can_create_elections as _can_create_elections

register = template.Library()


@register.filter
def can_create_elections(user: Any) -> bool:
    return _can_create_elections(user)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None
