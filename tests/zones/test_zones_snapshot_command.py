"""manage.py zones_snapshot --book FILE: zones of a depth snapshot file, clear errors for bad files."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.zones.domain.snapshot_file import (
    SnapshotFormatError,
    parse_depth_snapshot,
    parse_depth_snapshot_bytes,
)

ROOT = Path(__file__).resolve().parents[2]


def snapshot(bids, asks, update_id=42):
    return {"lastUpdateId": update_id, "bids": [[p, q] for p, q in bids], "asks": [[p, q] for p, q in asks]}


def write(tmp_path, document, name="depth.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=1))
    return path


def run(path, *extra):
    out = io.StringIO()
    call_command("zones_snapshot", "--book", str(path), *extra, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


# mid 86500: bids 86450 down, asks 86550 up, 50 apart (one level per bin), walls on each side
BIDS = [(f"{86450 - 50 * i}.00", "1.00000000") for i in range(17)]
ASKS = [(f"{86550 + 50 * i}.00", "1.00000000") for i in range(17)]


def with_walls(levels, walls):
    return [(p, walls.get(p, q)) for p, q in levels]


def test_prints_the_zones_of_the_snapshot(tmp_path):
    bids = with_walls(BIDS, {"86000.00": "12.5", "86050.00": "9"})  # adjacent wall bins: one zone
    asks = with_walls(ASKS, {"87000.00": "8"})
    result = run(write(tmp_path, snapshot(bids, asks)))
    assert (result["last_update_id"], result["mid"], result["window_narrower_than_range"]) == (
        42,
        "86500",
        False,
    )
    zones = [
        (z["side"], z["price_low"], z["price_high"], z["notional"], len(z["bins"])) for z in result["zones"]
    ]
    assert zones == [
        ("bid", "86000", "86100", str(86000 * 12.5 + 86050 * 9).removesuffix(".0"), 2),
        ("ask", "86950", "87000", str(87000 * 8), 1),
    ]
    ask = result["zones"][1]
    assert ask["strength"] == 8.0 and ask["bins"][0]["score"] == 8.0 and ask["bins"][0]["volume"] == "8"


def test_a_full_snapshot_side_is_trusted_only_to_its_last_level(tmp_path):
    path = write(tmp_path, snapshot(BIDS, ASKS))
    assert run(path, "--limit", "5000")["window_narrower_than_range"] is False
    narrowed = run(path, "--limit", "17")  # both sides hit the limit: 85650..87350 < the 1 % range
    assert narrowed["window_narrower_than_range"] is True
    assert (narrowed["analysed"]["bid_low"], narrowed["analysed"]["ask_high"]) == ("85650", "87350")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"lastUpdateId": 1,\n "bids": [["1", "2"]\n ["3", "1"]], "asks": []}',
            "line 3, column 2: not valid JSON",
        ),
        (
            '{"lastUpdateId": 1,\n "bids": [["1", "2"],\n   ["x", "1"]], "asks": []}',
            "line 3, column 5: bids[1] price",
        ),
        (
            '{"lastUpdateId": 1, "bids": [], "asks": [\n["5", "-1"]]}',
            "line 2, column 7: asks[0] quantity must be >= 0",
        ),
        ('{"lastUpdateId": "7", "bids": [], "asks": []}', "line 1, column 18: lastUpdateId must be"),
        ('{"bids": [], "asks": []}', 'missing key "lastUpdateId"'),
        ("[1, 2]", "expected a JSON object"),
        ('{"lastUpdateId": 1, "bids": [["5", "1"], ["5.0", "2"]], "asks": []}', "bids[1] repeats price"),
        ('{"lastUpdateId": 1, "bids": {"5": "1"}, "asks": []}', "bids must be a list"),
        ('{"lastUpdateId": 1, "bids": [["5"]], "asks": []}', "bids[0] must be a [price, quantity] pair"),
        ('{"lastUpdateId": 1, "bids": [["0", "1"]], "asks": []}', "bids[0] price must be positive"),
        ('{"lastUpdateId": 1, "bids": [["NaN", "1"]], "asks": []}', "bids[0] price must be finite"),
    ],
)
def test_bad_snapshot_text_is_reported_with_its_position(text, message):
    with pytest.raises(SnapshotFormatError) as caught:
        parse_depth_snapshot(text)
    assert message in str(caught.value)


def test_a_valid_snapshot_parses_to_exact_decimals():
    parsed = parse_depth_snapshot(
        '{"lastUpdateId": 9, "bids": [["99999.99", "0.10000000"]], "asks": [[100000.00, 2]]}'
    )
    assert parsed.last_update_id == 9
    assert [(str(p), str(q)) for p, q in parsed.bids + parsed.asks] == [
        ("99999.99", "0.10000000"),
        ("100000.00", "2"),
    ]


def test_command_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(tmp_path / "missing.json")
    with pytest.raises(CommandError, match=r"depth.json: line 1, column \d+: not valid JSON"):
        run(write(tmp_path, '{"lastUpdateId": 1,'))
    with pytest.raises(CommandError, match="no asks"):
        run(write(tmp_path, snapshot(BIDS, [])))
    with pytest.raises(CommandError, match="crossed"):
        run(write(tmp_path, snapshot(BIDS, [("86000.00", "1")])))


def test_the_cli_exits_non_zero_with_one_line_and_no_traceback(tmp_path):
    path = write(tmp_path, '{"lastUpdateId": 1,\n "bids": [["1", "2"],\n   ["x", "1"]], "asks": []}')
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run(
        [sys.executable, "manage.py", "zones_snapshot", "--book", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "line 3, column 5: bids[1] price is not a decimal number" in done.stderr
    assert done.stdout == ""


DOC = '{"lastUpdateId": 1, "bids": [["86450.00", "1"]], "asks": [["86550.00", %s]]}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "line 1, column 33: JSON nested more than 32 deep"),
        ((DOC % ("[" * 40 + "]" * 40)).encode(), "line 1, column 101: JSON nested more than 32 deep"),
        ((DOC % "1e999999999").encode(), "asks[0] quantity has an exponent beyond +-40, got 1e999999999"),
        ((DOC % '"1e999999999"').encode(), "asks[0] quantity has an exponent beyond +-40: '1e999999999'"),
        ((DOC % '"1e-999999999"').encode(), "asks[0] quantity has an exponent beyond +-40"),
        ((DOC % "1e9999999999999999999999").encode(), "asks[0] quantity is not a decimal number"),
        (
            (DOC % "1e25").encode(),
            "line 1, column 72: asks[0] quantity must be at most 1000000000, got 1E+25",
        ),
        ((DOC % '"10000000000000000000000000"').encode(), "asks[0] quantity must be at most 1000000000"),
        (
            (DOC % ("1" * 5000)).encode(),
            "asks[0] quantity is longer than 32 characters, got 11111111111111111111",
        ),
        ((DOC % "NaN").encode(), "line 1, column 72: asks[0] quantity must be finite, got NaN"),
        ((DOC % "-Infinity").encode(), "asks[0] quantity must be finite, got -Infinity"),
        ((DOC % '"Infinity"').encode(), "asks[0] quantity must be finite: 'Infinity'"),
        ((DOC % "[1]").encode(), "asks[0] quantity must be a decimal string"),
        ((DOC % "null").encode(), 'asks[0] quantity must be a decimal string such as "87000.01", got None'),
        ((DOC % '"1"').replace("86550.00", "2000000000").encode(), "asks[0] price must be within"),
        (
            '{"lastUpdateId": 1, "bids": [], "asks": []}'.encode("utf-16"),
            "not UTF-8 text: byte 0xff at offset 0",
        ),
        (
            b'{"lastUpdateId": 1,\n "bids": [["8\xc3(", "1"]]}',
            "line 2, column 14: not UTF-8 text: byte 0xc3 at offset 33",
        ),
        (
            b'{"lastUpdateId": 9' + b"9" * 5000 + b', "bids": [], "asks": []}',
            "lastUpdateId must be an integer",
        ),
        (
            b'{"lastUpdateId": 9223372036854775808, "bids": [], "asks": []}',
            "in [0, 2**63), got 9223372036854775808",
        ),
        (
            b'{"lastUpdateId": 1.5, "bids": [], "asks": []}',
            "lastUpdateId must be an integer in [0, 2**63), got 1.5",
        ),
        (
            b'{"lastUpdateId": 1, "bids": [' + b'["1", "1"],' * 100_000 + b'["2", "1"]], "asks": []}',
            "bids has 100001 levels",
        ),
        (b" " * (16 * 1024 * 1024 + 1), "more than 16777216 bytes"),
        (b"\x00\x01", "not valid JSON"),
        (b'"\\ud800"', "expected a JSON object"),
    ],
)
def test_hostile_files_are_one_line_with_the_position_where_there_is_one(data, message):
    with pytest.raises(SnapshotFormatError) as caught:
        parse_depth_snapshot_bytes(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000,
        (DOC % "1e999999999").encode(),
        b"\xff\xfe\x00\x00garbage",
        b'{"lastUpdateId": 1, "bids": [["86450.00", "1"]], "asks": [["86550.00", {"q": [1, [2, [3]]]}]]}',
    ],
)
def test_the_cli_gives_one_line_for_hostile_files(tmp_path, content):
    path = tmp_path / "hostile.json"
    path.write_bytes(content)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run(
        [sys.executable, "manage.py", "zones_snapshot", "--book", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith(f"CommandError: {path}: ")


def test_special_files_are_read_only_up_to_the_limit(tmp_path):
    with pytest.raises(CommandError, match="more than 16777216 bytes"):
        run(Path("/dev/zero"))
    with pytest.raises(CommandError, match="cannot read: Is a directory"):
        run(tmp_path)
