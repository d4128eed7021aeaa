"""The market's integer units: prices in ticks of 0.01, quantities in steps of 0.00001.

Decimals exist only at the edges; these conversions are exact (they refuse what does not fit the grid).
"""

from __future__ import annotations

from decimal import Decimal

PRICE_EXP = 2  # price ticks are 10**-2
QTY_EXP = 5  # quantity steps are 10**-5
TICK = Decimal("0.01")
STEP = Decimal("0.00001")

# (is_bid, price_ticks, qty_steps); qty 0 removes the level.
Change = tuple[bool, int, int]
IntLevel = tuple[int, int]


def price_to_ticks(price: Decimal) -> int:
    """Exact conversion; raises ValueError if the price is not a positive multiple of 0.01."""
    if not isinstance(price, Decimal):
        price = Decimal(str(price))
    if not price.is_finite() or price <= 0:
        raise ValueError(f"price must be a positive number, got {price}")
    scaled = price.scaleb(PRICE_EXP)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {price} is not a multiple of the tick size {TICK}")
    return int(scaled)


def qty_to_steps(qty: Decimal) -> int:
    """Exact conversion; raises ValueError if the quantity is not a positive multiple of 0.00001."""
    if not isinstance(qty, Decimal):
        qty = Decimal(str(qty))
    if not qty.is_finite() or qty <= 0:
        raise ValueError(f"quantity must be a positive number, got {qty}")
    scaled = qty.scaleb(QTY_EXP)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"quantity {qty} is not a multiple of the step size {STEP}")
    return int(scaled)


def ticks_to_price(ticks: int) -> Decimal:
    return Decimal(ticks).scaleb(-PRICE_EXP)


def steps_to_qty(steps: int) -> Decimal:
    return Decimal(steps).scaleb(-QTY_EXP)


def parse_side(side: str) -> bool:
    """ "bid"/"buy" -> True, "ask"/"sell" -> False."""
    if side in ("bid", "BID", "buy"):
        return True
    if side in ("ask", "ASK", "sell"):
        return False
    raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")
