"""The book's resting quantity per heatmap bin, followed from what changed. Pure.

Re-reading every level within +-2 % of mid each cycle costs ~0.1 us a level on the event loop
(thousands of levels on a real book); the book's change log (apps/book/domain/change_log.py) says
which levels were written since the last cycle, usually a few hundred. So ``BinnedBook`` reads the
book once (``from_levels``, off the event loop), keeps each level's quantity and bin, and then only
applies the diff events (``follow``): each moves one level's quantity out of its bin and the new one
in. Sums are exact (Decimal sums of the book's Decimal quantities); ``picture`` turns the bins a
cycle observes into floats, converting a bin again only after its sum moved.

A ``Window`` limits what is followed to the bins near the band a cycle observes (``window_around``:
the band and a margin): bids from a bin up, asks up to a bin. Writes outside it are skipped after a
comparison (about half of a cycle's writes land farther out than +-2 %). ``catch_up`` follows the
log and keeps the window on the band: when the band moves past it, the window is widened with the
levels of the bins it adds read from the book (``reach``); when the band has moved far from where it
was binned, ``catch_up`` answers None and the caller bins the book afresh around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from apps.book.domain.change_log import ChangeCursor, LevelWrites
from apps.book.domain.events import Level, Side
from apps.heatmap.domain.grid import BinSpan, BookSpans

# the book's levels of one side with low <= price <= high, ascending (BookSnapshotView.levels_between)
LevelReader = Callable[[Side, Decimal, Decimal], Sequence[Level]]


class SharedNumbers(tuple[float, ...]):
    """An immutable run of numbers: deep copies share it instead of copying it number by number
    (the in-process channel layer deep-copies each message it sends; nothing can change a tuple of
    floats)."""

    __slots__ = ()

    def __deepcopy__(self, memo: Any) -> SharedNumbers:
        return self


class SideBins(NamedTuple):
    """One side of one cycle's binned book: ``qty[i]`` is the resting quantity of bin first + i.
    (A named tuple: made twice a cycle, it costs a third of a frozen dataclass.)"""

    first: int
    qty: tuple[float, ...]  # base asset, ascending price (plain floats: ~35 a side, numpy would cost more)

    @property
    def last(self) -> int:
        return self.first + len(self.qty) - 1


class BookPicture(NamedTuple):
    """One cycle's book on the heatmap grid: only the bins it observed (``trusted_bins``)."""

    bid: SideBins
    ask: SideBins


@dataclass(frozen=True, slots=True)
class Window:
    """The levels a ``BinnedBook`` follows: bids in bins >= ``bid_from``, asks in bins <= ``ask_to``
    (None: no limit on that side)."""

    bid_from: int | None = None
    ask_to: int | None = None


EVERYWHERE = Window()
_ZERO = Decimal(0)
_NO_LOW, _NO_HIGH = Decimal("-Infinity"), Decimal("Infinity")
MIN_MARGIN_BINS = 2
RECENTRE_MARGINS = 6  # the window is rebuilt once it holds this many margins more than the band


def window_margin(spans: BookSpans) -> int:
    """Bins kept beyond the band on each side: an eighth of the band (4 bins at the defaults), so the
    band moves that far before the window must be widened."""
    return max(MIN_MARGIN_BINS, max(spans.bid.bins, spans.ask.bins) // 8)


def window_around(spans: BookSpans) -> Window:
    """The window for a book observed through ``spans``: their bins and a margin each way (a side
    observing no bin: from its touch, where the band would start)."""
    margin = window_margin(spans)
    bid, ask = spans.bid, spans.ask
    return Window(min(bid.first, bid.last) - margin, max(ask.first, ask.last) + margin)


def window_levels(
    read: LevelReader, window: Window, bin_size: Decimal
) -> tuple[Sequence[Level], Sequence[Level]]:
    """The book's levels within ``window`` (bids, asks), for ``BinnedBook.from_levels``."""
    low = _ZERO if window.bid_from is None else max(window.bid_from * bin_size, _ZERO)
    high = _NO_HIGH if window.ask_to is None else (window.ask_to + 1) * bin_size
    asks = read(Side.ASK, _ZERO, high)
    if asks and asks[-1][0] == high:  # followed: below ``high``
        asks = asks[:-1]
    return read(Side.BID, low, _NO_HIGH), asks


class _Bin:
    """One bin's exact resting quantity, and its float as last converted."""

    __slots__ = ("converted", "total", "value")

    def __init__(self) -> None:
        self.total: Decimal = _ZERO
        self.converted: Decimal | None = None  # the total ``value`` was converted from
        self.value = 0.0


class _Side:
    __slots__ = ("_bins_in_view", "_span", "_values", "bins", "high", "levels", "low")

    def __init__(self) -> None:
        self.levels: dict[Decimal, tuple[Decimal, _Bin]] = {}  # price -> (quantity, its bin)
        self.bins: dict[int, _Bin] = {}
        self.low, self.high = _NO_LOW, _NO_HIGH  # followed: levels with low <= price < high
        self._span = BinSpan(0, -1)  # the bins the last picture observed, their _Bins and floats
        self._bins_in_view: list[_Bin] = []
        self._values: list[float] = []

    def write(self, writes: Sequence[Level], bin_size: Decimal) -> None:
        """Levels' absolute quantities (zero: the level is gone), in order. The hot loop of a cycle:
        two comparisons per write, then one dict read and two Decimal operations per followed
        write; a price's bin is worked out once, when the price first appears."""
        levels, bins, low, high = self.levels, self.bins, self.low, self.high
        known = levels.get
        for price, qty in writes:
            if not low <= price < high:  # outside the window
                continue
            level = known(price)
            if level is None:
                if qty:
                    index = int(price // bin_size)  # grid.heatmap_bin_of, inlined
                    acc = bins.get(index)
                    if acc is None:
                        acc = bins[index] = _Bin()
                    acc.total += qty
                    levels[price] = (qty, acc)
                continue
            old, acc = level
            acc.total += qty - old
            if qty:
                levels[price] = (qty, acc)
            else:
                del levels[price]

    def picture(self, span: BinSpan) -> SideBins:
        """The span's quantities; a bin's float is converted again only after its sum moved
        (float(Decimal) is correctly rounded: the float nearest the exact sum)."""
        first, last = span
        if last < first:
            return SideBins(first, SharedNumbers())
        if span != self._span:
            self._view(span)
        values = self._values
        at = 0
        for acc in self._bins_in_view:
            total = acc.total
            if total is not acc.converted:
                acc.converted = total
                acc.value = values[at] = float(total)
            at += 1
        return SideBins(first, SharedNumbers(values))

    def _view(self, span: BinSpan) -> None:
        bins = self.bins
        view = []
        for index in range(span.first, span.last + 1):
            acc = bins.get(index)
            if acc is None:
                acc = bins[index] = _Bin()
            view.append(acc)
        self._span, self._bins_in_view, self._values = span, view, [acc.value for acc in view]


class BinnedBook:
    """Quantity per bin of each side of one book (within ``window``), as of ``cursor`` in its change
    log."""

    def __init__(self, bin_size: Decimal, cursor: ChangeCursor, window: Window = EVERYWHERE) -> None:
        self.bin_size = bin_size
        self.cursor = cursor
        self.window = window
        self._fitting: BookSpans | None = None  # the spans ``fits`` last answered True for
        self._bids = _Side()
        self._asks = _Side()
        self._set_window(window)

    @classmethod
    def from_levels(
        cls,
        bids: Sequence[Level],
        asks: Sequence[Level],
        bin_size: Decimal,
        cursor: ChangeCursor,
        window: Window = EVERYWHERE,
    ) -> BinnedBook:
        """From the book read at ``cursor`` (its level lists copied before any await): at least every
        level within ``window``; the others are left out."""
        binned = cls(bin_size, cursor, window)
        binned._bids.write(bids, bin_size)
        binned._asks.write(asks, bin_size)
        return binned

    @property
    def level_count(self) -> int:
        return len(self._bids.levels) + len(self._asks.levels)

    def follow(self, events: Sequence[LevelWrites], cursor: ChangeCursor) -> int:
        """Apply the diff events logged since ``self.cursor`` (oldest first); now at ``cursor``.
        Returns how many level writes that was (followed or outside the window)."""
        size, bid_side, ask_side = self.bin_size, self._bids, self._asks
        writes = 0
        for bids, asks in events:
            bid_side.write(bids, size)
            ask_side.write(asks, size)
            writes += len(bids) + len(asks)
        self.cursor = cursor
        return writes

    def catch_up(
        self, events: Sequence[LevelWrites], cursor: ChangeCursor, spans: BookSpans, read: LevelReader
    ) -> int | None:
        """``follow`` the events, then make sure the bins of ``spans`` are followed (``reach``, with
        ``read`` the book as of ``cursor``). Returns how many level writes were logged; None, with
        nothing done, when the window is too far from ``spans`` (``recentre_due``): bin the book
        afresh around them (``window_around``)."""
        fits = self.fits(spans)
        if not fits and self.recentre_due(spans):
            return None
        writes = self.follow(events, cursor)
        if not fits and not self.covers(spans):
            self.reach(spans, read)
        return writes

    def fits(self, spans: BookSpans) -> bool:
        """Whether the window suits ``spans``: it ``covers`` them and no recentring is due (answered
        once per spans object: they change only when the touch or the trusted window moves)."""
        if spans is self._fitting:
            return True
        if self.covers(spans) and not self.recentre_due(spans):
            self._fitting = spans
            return True
        return False

    def covers(self, spans: BookSpans) -> bool:
        """Whether every bin of ``spans`` is followed."""
        bid_from, ask_to = self.window.bid_from, self.window.ask_to
        return (bid_from is None or not spans.bid.bins or spans.bid.first >= bid_from) and (
            ask_to is None or not spans.ask.bins or spans.ask.last <= ask_to
        )

    def reach(self, spans: BookSpans, read: LevelReader) -> int:
        """Widen the window to the bins of ``spans`` it leaves out, and a margin; the levels of the
        bins it adds are read with ``read``, the book as of ``self.cursor``. Returns how many levels
        were read."""
        margin, size = window_margin(spans), self.bin_size
        bid_from, ask_to = self.window.bid_from, self.window.ask_to
        added_bids: Sequence[Level] = ()
        added_asks: Sequence[Level] = ()
        if bid_from is not None and spans.bid.bins and spans.bid.first < bid_from:
            below, bid_from = bid_from * size, spans.bid.first - margin  # followed from ``below`` up
            added_bids = [lv for lv in read(Side.BID, bid_from * size, below) if lv[0] < below]
        if ask_to is not None and spans.ask.bins and spans.ask.last > ask_to:
            start, ask_to = (ask_to + 1) * size, spans.ask.last + margin  # followed below ``start``
            above = (ask_to + 1) * size
            added_asks = [lv for lv in read(Side.ASK, start, above) if lv[0] < above]
        self._set_window(Window(bid_from, ask_to))
        self._bids.write(added_bids, size)
        self._asks.write(added_asks, size)
        return len(added_bids) + len(added_asks)

    def recentre_due(self, spans: BookSpans) -> bool:
        """Whether the window, widened to ``spans`` if need be, would hold far more bins than they
        need (the band moved away from where it was binned): follow fewer writes by binning the book
        afresh around the band."""
        margin, window = window_margin(spans), self.window
        spare = 0
        if window.bid_from is not None and spans.bid.bins:
            spare += max(0, spans.bid.first - window.bid_from)
        if window.ask_to is not None and spans.ask.bins:
            spare += max(0, window.ask_to - spans.ask.last)
        return spare > RECENTRE_MARGINS * margin

    def picture(self, spans: BookSpans) -> BookPicture:
        """The observed bins of both sides (bins without a level are 0: trusted and empty). The
        spans must be ``covers``-ed."""
        if spans is not self._fitting and not self.covers(spans):
            raise ValueError(f"bins {spans} are not all followed (window {self.window})")
        return BookPicture(bid=self._bids.picture(spans.bid), ask=self._asks.picture(spans.ask))

    def _set_window(self, window: Window) -> None:
        size = self.bin_size
        self.window = window
        self._fitting = None
        self._bids.low = _NO_LOW if window.bid_from is None else window.bid_from * size
        self._asks.high = _NO_HIGH if window.ask_to is None else (window.ask_to + 1) * size
