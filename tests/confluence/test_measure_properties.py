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
    MeasureMemo,
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


@st.composite
def dense_books(draw):
    """Levels spread over 4 % on each side of the touch, so moved windows hold other quantities."""
    base = draw(st.integers(min_value=1_000_00, max_value=120_000_00))
    span = base // 25
    qty = st.integers(min_value=1, max_value=300_000_000).map(lambda q: D(q) / 10**8)
    offsets = st.lists(st.integers(0, span), min_size=20, max_size=200)
    bids = [((base - off) * CENT, draw(qty)) for off in sorted({0, *draw(offsets)})]
    asks = [((base + 1 + off) * CENT, draw(qty)) for off in sorted({0, *draw(offsets)})]
    return bids, asks


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


@settings(max_examples=100, deadline=None)
@given(book=dense_books(), params=params_strategy, data=st.data())
def test_a_memo_kept_from_cycle_to_cycle_changes_no_reading(book, params, data):
    """Cycles where the band moves (blocks enter and leave it, their windows shift), the zones change
    or stay, and the block list is replaced: measuring with one memo kept throughout equals measuring
    afresh."""
    bids, asks = book
    followed = FollowedBook.from_levels(bids, asks, (0, 0))
    block_list = data.draw(blocks(bids, asks))
    prepared = Blocks.of(block_list, params)
    averages = block_averages_array(prepared, {})
    spans = ZoneSpans.of(data.draw(zones(block_list, params.bin_size)))
    memo = MeasureMemo()
    window = None
    if data.draw(st.booleans()):  # a trusted window: the band's far ends stay while the touch moves
        window = ((bids[0][0] * D("0.996")).quantize(CENT), (asks[0][0] * D("1.004")).quantize(CENT))
    for _ in range(data.draw(st.integers(2, 6))):
        step = data.draw(st.sampled_from(["touch", "move", "zones", "blocks", "same"]))
        if step == "zones":
            spans = ZoneSpans.of(data.draw(zones(block_list, params.bin_size)))
        elif step == "blocks":
            block_list = data.draw(blocks(bids, asks))
            prepared, spans = Blocks.of(block_list, params), ZoneSpans.of(())
            averages = block_averages_array(prepared, {})
        bid, spread = bids[0][0], asks[0][0] - bids[0][0]
        if step == "touch":  # by a few cents: the same blocks measured, some windows shifted
            bid = max(bid + data.draw(st.integers(-300, 300)) * CENT, CENT)
        elif step == "move":  # by up to 1.5 %, the spread too (the mid moves apart from the touch)
            bid = max((bid * (1 + D(data.draw(st.integers(-150, 150))) / 10_000)).quantize(CENT), CENT)
            spread = max(spread + data.draw(st.integers(-3_000, 3_000)) * CENT, CENT)
        bounds = analysis_bounds(bid, bid + spread, window, params.zone)
        kept = measure_blocks(prepared, followed, bounds, spans, params, averages, memo)
        afresh = measure_blocks(prepared, followed, bounds, spans, params, averages)
        assert [kept.reading(at) for at in range(len(prepared))] == [
            afresh.reading(at) for at in range(len(prepared))
        ]


def test_a_memo_follows_one_side_of_the_band_moving_alone():
    """The touch moves by three bins while a trusted window holds the far ends: a bid block's windows
    end three bins earlier (only its last shift changes), an ask block's start three bins earlier (only
    its first): the memo's windows follow each, as measuring afresh does."""
    params = ConfluenceParams(ZoneParams(range_pct=D("1"), bin_size=D("10")), pad_bins=0)
    bids = [(D(p) * CENT, D(p * 7_919 % 97 + 1)) for p in range(98_000_00, 100_000_00, 37)][::-1]
    asks = [(D(p) * CENT, D(p * 7_919 % 89 + 1)) for p in range(100_000_01, 102_000_00, 41)]
    followed = FollowedBook.from_levels(bids, asks, (0, 0))
    window = (D("99600"), D("100400"))
    for block in (
        block_range("up", "bullish", D("99700"), D("99710")),
        block_range("down", "bearish", D("100300"), D("100310")),
    ):
        prepared = Blocks.of([block], params)
        averages = block_averages_array(prepared, {})
        memo = MeasureMemo()
        for touch in (D("99990"), D("99960")):  # the band's near end moves by three bins
            bounds = analysis_bounds(touch, touch + D("20.01"), window, params.zone)
            kept = measure_blocks(prepared, followed, bounds, ZoneSpans.of(()), params, averages, memo)
            afresh = measure_blocks(prepared, followed, bounds, ZoneSpans.of(()), params, averages)
            assert kept.reading(0) == afresh.reading(0) is not None


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
