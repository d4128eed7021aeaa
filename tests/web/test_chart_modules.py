"""The chart page's pure JavaScript modules (sequence tracking, time mapping, styles, the heatmap's
scale, data and picture, the depth profile and the zone history's rules) under node --test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("suite", sorted(p.name for p in (ROOT / "tests" / "web" / "js").glob("*.test.mjs")))
def test_chart_modules_pass_their_node_unit_tests(suite):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "--experimental-default-type=module", "--test", f"tests/web/js/{suite}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout
