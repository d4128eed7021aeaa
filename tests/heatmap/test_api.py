"""GET /api/heatmap: the pinned shape, aggregation, validation (400 naming the field), ETag/304, gzip."""

from __future__ import annotations

import gzip
import json
import time
from decimal import Decimal as D

import numpy as np
import pytest

from apps.heatmap.answer import fragments
from apps.heatmap.domain.columns import FinishedColumn, SideColumn
from apps.heatmap.domain.packing import stored_row
from apps.heatmap.services import store

NOW = int(time.time())
HOUR = NOW - NOW % 3600 - 3600  # the start of the last full hour
NAN = float("nan")


def side(first: int, mean: list[float], peak: list[float] | None = None) -> SideColumn:
    return SideColumn(first, np.array(mean, dtype=np.float32), np.array(peak or mean, dtype=np.float32))


def seed(columns: list[FinishedColumn], bin_size: str = "50", column_s: int = 60) -> None:
    store.write_columns("BTCEUR", D(bin_size), column_s, [stored_row(c) for c in columns])


@pytest.fixture(autouse=True)
def empty_fragment_cache():
    fragments.clear()


@pytest.fixture
def hour_of_columns(db):
    """60 one-minute columns in the last full hour: bids 1730..1732 with a hole in the middle once."""
    columns = []
    for m in range(60):
        bid = side(1730, [1.0 + m, 2.0, 3.0], [2.0 + m, 2.5, 3.5])
        if m == 7:
            bid = side(1730, [1.0 + m, NAN, 3.0], [2.0 + m, NAN, 3.5])
        columns.append(FinishedColumn(HOUR + 60 * m, 60, bid, side(1741, [0.5], [0.75])))
    seed(columns)
    return columns


def get(client, **params):
    response = client.get("/api/heatmap", params)
    assert response.status_code == 200, response.content
    return response, response.json()


def test_the_answer_has_the_pinned_shape(client, hour_of_columns):
    _, body = get(client, **{"from": HOUR, "to": HOUR + 3599, "resolution": 60})
    assert body["symbol"] == "BTCEUR" and body["bin_size"] == "50" and body["resolution_s"] == 60
    assert len(body["columns"]) == 60
    first, hole = body["columns"][0], body["columns"][7]
    assert first == {
        "t": HOUR,
        "live_cycles": 60,
        "bid_from": "86500",
        "bid_qty": [1.0, 2.0, 3.0],
        "bid_max": [2.0, 2.5, 3.5],
        "ask_from": "87050",
        "ask_qty": [0.5],
        "ask_max": [0.75],
    }
    assert hole["bid_qty"] == [8.0, None, 3.0] and hole["bid_max"] == [9.0, None, 3.5]  # absent: null


def test_columns_are_aggregated_to_the_resolution(client, hour_of_columns):
    _, body = get(client, **{"from": HOUR, "to": HOUR + 3599, "resolution": 3600})
    [column] = body["columns"]
    assert column["t"] == HOUR and column["live_cycles"] == 3600
    assert column["bid_qty"] == [pytest.approx(sum(1.0 + m for m in range(60)) / 60), 2.0, 3.0]
    assert column["bid_max"] == [61.0, 2.5, 3.5]
    _, body = get(client, **{"from": HOUR, "to": HOUR + 3599, "resolution": 600})
    assert [c["t"] for c in body["columns"]] == [HOUR + 600 * i for i in range(6)]
    assert body["columns"][0]["bid_qty"][1] == 2.0  # the hole (column 7) is in the second one
    assert body["columns"][0]["live_cycles"] == 600


def test_defaults_are_the_last_24_hours_at_a_resolution_under_2000_columns(client, hour_of_columns):
    _, body = get(client)
    assert body["resolution_s"] == 60 and len(body["columns"]) == 60
    _, body = get(client, **{"from": NOW - 7 * 86400})
    assert body["resolution_s"] == 600 and [c["t"] % 600 for c in body["columns"]] == [0] * 6


def test_another_grid_is_not_mixed_in(client, hour_of_columns):
    seed([FinishedColumn(HOUR, 60, side(100, [9.0]), side(101, [9.0]))], bin_size="25")
    seed([FinishedColumn(HOUR + 1, 1, side(100, [9.0]), side(101, [9.0]))], column_s=1)
    _, body = get(client, **{"from": HOUR, "to": HOUR + 59, "resolution": 60})
    assert [c["bid_from"] for c in body["columns"]] == ["86500"]


def test_a_new_column_changes_the_answer_and_its_etag(client, hour_of_columns):
    params = {"from": HOUR, "to": HOUR + 7199, "resolution": 3600}
    first = client.get("/api/heatmap", params)
    assert client.get("/api/heatmap", params, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    seed([FinishedColumn(HOUR + 3600, 60, side(1730, [5.0]), side(1741, [5.0]))])
    again = client.get("/api/heatmap", params, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and len(again.json()["columns"]) == 2
    # the cached hour is the same; a column added to a cached one is a new key, not a stale answer
    seed([FinishedColumn(HOUR + 3660, 60, side(1730, [7.0]), side(1741, [5.0]))])
    _, body = get(client, **params)
    assert body["columns"][1]["bid_qty"] == [6.0] and body["columns"][1]["live_cycles"] == 120


def test_large_answers_are_gzipped_for_clients_that_accept_it(client, hour_of_columns):
    params = {"from": HOUR, "to": HOUR + 3599, "resolution": 60}
    plain = client.get("/api/heatmap", params)
    zipped = client.get("/api/heatmap", params, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain and plain["Vary"] == "Accept-Encoding"
    assert zipped["Content-Encoding"] == "gzip" and zipped["Vary"] == "Accept-Encoding"
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()
    assert len(zipped.content) < len(plain.content) * 0.8  # tiny test columns; real ones ~1.9x smaller
    assert zipped["ETag"] == "W/" + plain["ETag"]
    for etag in (zipped["ETag"], plain["ETag"]):
        again = client.get("/api/heatmap", params, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304 and again.content == b""
    small = client.get("/api/heatmap", {"from": HOUR, "to": HOUR}, HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in small  # a few hundred bytes: not worth it


def test_an_empty_range_is_an_empty_list(client, db):
    _, body = get(client)
    assert body["columns"] == [] and body["resolution_s"] == 60
    _, body = get(client, **{"from": 0, "to": 100})  # long before the retention
    assert body["columns"] == []


BAD = [
    ({"resolution": "90"}, "resolution"),  # not a multiple of HEATMAP_COLUMN_S (60)
    ({"resolution": "30"}, "resolution"),
    ({"resolution": "0"}, "resolution"),
    ({"resolution": "1e3"}, "resolution"),
    ({"resolution": "604860"}, "resolution"),
    ({"resolution": ""}, "resolution"),
    ({"from": "x"}, "from"),
    ({"from": "20", "to": "10"}, "from"),
    ({"to": "-1"}, "to"),
    ({"limit": "5"}, "limit"),
]


@pytest.mark.parametrize(("params", "parameter"), BAD)
def test_bad_parameters_get_400_naming_the_parameter(client, db, params, parameter):
    response = client.get("/api/heatmap", params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_parameter" and body["parameter"] == parameter and body["detail"]


def test_too_many_columns_for_an_explicit_resolution_is_refused(client, db, settings):
    settings.CONFIG = type(settings.CONFIG)(**{**settings.CONFIG.__dict__, "heatmap_column_s": 1})
    response = client.get("/api/heatmap", {"from": NOW - 86400, "resolution": 1})
    assert response.status_code == 400 and response.json()["parameter"] == "resolution"
    assert client.get("/api/heatmap", {"from": NOW - 86400}).status_code == 200  # the default fits


def test_only_get_and_head(client, db):
    assert client.post("/api/heatmap").status_code == 405
    assert client.head("/api/heatmap").status_code == 200


def test_deflated_pieces_join_into_one_gzip_stream():
    from apps.json_http.compression import deflate_piece, gzip_from_pieces

    parts = [b'{"a":[', b"1.5," * 500, b"2]}"]
    body = b"".join(parts)
    assert gzip.decompress(gzip_from_pieces([deflate_piece(p) for p in parts], body)) == body
    assert gzip.decompress(gzip_from_pieces([], b"")) == b""
