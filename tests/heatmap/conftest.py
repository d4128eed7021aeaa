"""Each test seeds its own columns at the same start times; the per-process fragment cache assumes a
stored column never changes (true within one database), so it starts empty in every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.heatmap.answer import fragments


@pytest.fixture(autouse=True)
def empty_fragment_cache() -> Iterator[None]:
    fragments.clear()
    yield
    fragments.clear()
