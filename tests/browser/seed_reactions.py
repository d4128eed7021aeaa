"""Add order-block reactions to a database seeded by tests.browser.seed_demo (run as a script against
DATABASE_URL; the seeded scene is read from the database itself).

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python -m tests.browser.seed_reactions

One reaction on the scene's touched bearish block (touched 20 min into the bar its row names; held at
1h and 4h, 24h still to come), and three on blocks the page does not draw, for the statistics: a
bullish one invalidated, a bearish one undecided, one closed as unknown. Prints the shown one as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from decimal import Decimal

MIN_MS = 60_000


def seed() -> dict:
    from apps.book.domain.events import Trade
    from apps.orderblocks.domain.enums import Direction
    from apps.orderblocks.models import OrderBlock
    from apps.orderblocks.presentation import orderblock_id
    from apps.reactions.domain.enums import Outcome, ReactionState
    from apps.reactions.domain.liquidity import Backing, Liquidity
    from apps.reactions.domain.reaction import ReactionParams, Snapshot, close_unknown, touched_reaction
    from apps.reactions.domain.touches import BlockRef
    from apps.reactions.presentation import reaction_overlay
    from apps.reactions.services.store import save_reactions

    row = OrderBlock.objects.get(status="touched")
    block = BlockRef(
        orderblock_id(row.symbol, row.direction, row.created_ts_ms),
        Direction(row.direction),
        row.price_low,
        row.price_high,
        row.atr14,
        row.valid_from_ts_ms,
    )
    touch_ms = row.touched_ts_ms + 20 * MIN_MS
    price = row.price_low + 10
    base = touched_reaction(
        "BTCEUR",
        block,
        Trade(1, price, Decimal("0.2"), touch_ms, False),
        touch_ms + 400,
        Liquidity(Decimal("14.2"), Decimal("14.2") * price),
        Backing(True, ("BTCEUR:ask:x",), 5.1),
        ReactionParams(),
    )
    later = [
        Snapshot(touch_ms + o, touch_ms + o + 300, Decimal(q), Decimal(q) * price)
        for o, q in ((MIN_MS, "13.9"), (5 * MIN_MS, "6.5"), (15 * MIN_MS, "1.2"))
    ]
    shown = replace(
        base,
        snapshots=(base.snapshots[0], *later),
        moved_away_ts_ms=touch_ms + 50 * MIN_MS,
        extreme_price=block.price_low - block.atr14 - 20,
        outcomes=(Outcome.HELD, Outcome.HELD, None),
    )

    def other(key: str, direction: Direction, backed: bool, outcomes: tuple, state: ReactionState):
        ref = replace(block, id=f"BTCEUR:{direction}:{key}", direction=direction)
        return replace(shown, block=ref, backing=Backing(backed, (), None), outcomes=outcomes, state=state)

    done = ReactionState.DONE
    reactions = [
        shown,
        other("1", Direction.BULLISH, False, (Outcome.INVALIDATED,) * 3, done),
        other("2", Direction.BEARISH, True, (Outcome.UNDECIDED, Outcome.HELD, Outcome.HELD), done),
        close_unknown(
            other("3", Direction.BULLISH, False, (Outcome.UNDECIDED, None, None), ReactionState.PENDING),
            "the service was not running at the 4h outcome",
        ),
    ]
    save_reactions(reactions, watched_until_ms=touch_ms + 5 * 3_600_000)
    return reaction_overlay(shown)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    json.dump(seed(), sys.stdout)


if __name__ == "__main__":
    main()
