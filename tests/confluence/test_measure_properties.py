"""The fast path (ladders, numpy) against the plain Decimal rules, on generated books (hypothesis)."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.confluence.domain.ladder import FollowedBook
from apps.confluence.domain.liquidity import (
    ConfluenceParams,
    block_range,
    measure_block,
    resting_quantity,
    window_quantities,
)
from apps.confluence.domain.measure import (
    Blocks,
    ZoneSpans,
    block_averages_array,
    liquidity_of,
    measure_blocks,
    reading_of,
)
from apps.zones.domain.detection import ZoneParams, analysis_bounds
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import ZoneRecord

CENT = D("0.01")


@st.composite
def books(draw):
    """Best bid < best ask in cents around 100..120,000, levels within `span` cents of the touch."""
    base = draw(st.integers(min_value=100_00, max_value=120_000_00))
    spread = draw(st.integers(min_value=1, max_value=300))
    span = draw(st.sampled_from([500, 5_000, 50_000]))
    qty = st.one_of(
        st.integers(min_value=1, max_value=3_000_000).map(lambda q: D(q) / 10**8),
        st.integers(min_value=1, max_value=300).map(D),  # walls
    )
    bid_offsets = sorted({0, *draw(st.lists(st.integers(0, span), max_size=80))})
    ask_offsets = sorted({0, *draw(st.lists(st.integers(0, span), max_size=80))})
    bids = [((base - off) * CENT, draw(qty)) for off in bid_offsets if base - off > 0]
    asks = [((base + spread + off) * CENT, draw(qty)) for off in ask_offsets]
    return bids, asks


@st.composite
def blocks(draw, bids, asks):
    """Blocks around the touch: inside, straddling and outside the band."""
    touch = bids[0][0] if bids else asks[0][0]
    out = []
    for i in range(draw(st.integers(1, 12))):
        offset = draw(st.integers(-120, 120))  # basis points: around the 0.5..3 % bands
        usual = "bullish" if offset < 0 else "bearish"  # demand below the price, supply above
        direction = draw(st.sampled_from([usual, usual, usual, "bullish", "bearish"]))
        centre = touch * (1 + D(offset) / 10_000)
        half = touch * D(draw(st.integers(1, 40))) / 10_000
        low = max((centre - half).quantize(CENT), CENT)
        high = max((centre + half).quantize(CENT), low + CENT)
        out.append(block_range(f"b{i}", direction, low, high))
    return out


@st.composite
def zones(draw, block_list, size):
    """Zones on the bin grid near the blocks: overlapping them, touching an edge, or beside them."""
    out = []
    for i in range(draw(st.integers(0, 8))):
        block = draw(st.sampled_from(block_list))
        side = draw(st.sampled_from([block.side, block.side, Side.BID, Side.ASK]))
        anchor = draw(st.sampled_from([block.price_low, block.price_high]))
        low = (anchor // size + draw(st.integers(-4, 3))) * size
        width = draw(st.integers(1, 3))
        status = draw(st.sampled_from(list(ZoneStatus)[:4]))
        out.append(
            ZoneRecord(f"z{i}", 0, "BTCEUR", side, low, low + width * size, D(1), 5.0, 1.0, status, 0, 0, 1)
        )
    return out


params_strategy = st.builds(
    lambda range_pct, bin_size, pad, multiplier: ConfluenceParams(
        ZoneParams(range_pct=range_pct, bin_size=bin_size, wall_multiplier=multiplier), pad_bins=pad
    ),
    range_pct=st.sampled_from([D("0.5"), D("1"), D("3")]),
    bin_size=st.sampled_from([D("0.5"), D("10"), D("50")]),
    pad=st.integers(0, 3),
    multiplier=st.sampled_from([1.5, 4.0]),
)


@settings(max_examples=200, deadline=None)
@given(book=books(), params=params_strategy, data=st.data())
def test_the_fast_path_gives_exactly_the_readings_and_liquidity_of_the_rules(book, params, data):
    bids, asks = book
    window = None
    if data.draw(st.booleans()):  # a snapshot that did not reach the whole band
        window = (bids[len(bids) // 2][0], asks[len(asks) // 2][0])
    bounds = analysis_bounds(bids[0][0], asks[0][0], window, params.zone)
    block_list = data.draw(blocks(bids, asks))
    zone_list = data.draw(zones(block_list, params.bin_size))
    averages = {b.key: data.draw(st.one_of(st.none(), st.floats(0, 100))) for b in block_list}
    followed = FollowedBook.from_levels(bids, asks, (0, 0))
    prepared = Blocks.of(block_list, params)
    fast = measure_blocks(
        prepared, followed, bounds, ZoneSpans.of(zone_list), params, block_averages_array(prepared, averages)
    )
    for block in block_list:
        levels = bids if block.side is Side.BID else asks
        expected = measure_block(block, levels, bounds, zone_list, params, averages[block.key])
        at = prepared.index[block.key]
        reading = fast.reading(at)
        if expected is None:
            assert reading is None
            continue
        assert reading == reading_of(expected)
        assert liquidity_of(reading, prepared, at, followed) == expected


@given(
    st.lists(
        st.tuples(st.integers(1, 5_000), st.integers(1, 10**9).map(lambda q: D(q) / 10**8)),
        max_size=60,
        unique_by=lambda level: level[0],
    ),
    st.lists(st.tuples(st.integers(0, 5_100), st.integers(0, 800)), max_size=30),
)
def test_window_quantities_are_each_windows_resting_quantity(levels, spans):
    """The one-pass sums (a reaction's touch) equal the plain rule for every window, edges included."""
    priced = [(D(price) * CENT, qty) for price, qty in levels]
    windows = [(D(start) * CENT, D(start + width) * CENT) for start, width in spans]
    assert window_quantities(priced, windows) == [
        resting_quantity(priced, low, high) for low, high in windows
    ]
