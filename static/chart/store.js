// The chart's overlay state: zones, order blocks (with the liquidity inside them), latest metrics,
// stream status, and the push sequence (epoch + seq) used to notice lost messages.
//
// acceptDelta() answers:
//   "applied"   the delta was the next one and is now part of the state
//   "duplicate" already reflected (seq not newer): ignored
//   "hole"      a message was lost or the streamer restarted: the caller must re-fetch the state
//   "waiting"   a re-fetch is in flight: deltas are dropped until the snapshot arrives
//   "candle"    the delta is a candle update for the caller to apply to the series

export class OverlayStore {
  constructor() {
    this.zones = new Map();
    this.blocks = new Map();
    this.metrics = null;
    this.status = null;
    this.zoneState = null; // {computing, reason, window_narrower_than_range} from the zones deltas
    // block id -> {liquidity, backed}: from the state and the `confluence` deltas, kept apart from the
    // block dicts so an `orderblocks` delta (which has no liquidity) does not drop it
    this.confluence = new Map();
    this.confluenceState = null; // {computing, reason}
    this.epoch = null;
    this.seq = null;
    this.awaitingSnapshot = false;
    this.version = 0;
  }

  /** Replace everything with a full state ({zones, orderblocks, metrics, status}). */
  applyState(state, epoch = null, seq = null) {
    this.zones = new Map((state.zones || []).map((z) => [z.id, z]));
    this.blocks = new Map((state.orderblocks || []).map((b) => [b.id, b]));
    this.confluence = new Map(
      (state.orderblocks || []).map((b) => [b.id, { liquidity: b.liquidity ?? null, backed: Boolean(b.backed) }]),
    );
    this.confluenceState = state.confluence || null;
    this.metrics = state.metrics || null;
    this.status = state.status || null;
    this.epoch = epoch;
    this.seq = seq;
    this.awaitingSnapshot = false;
    this.version += 1;
  }

  /** The order blocks with their latest `liquidity` and `backed` (an invalid block has none). */
  blockList() {
    const out = [];
    for (const block of this.blocks.values()) {
      const known = block.status === "invalid" ? null : this.confluence.get(block.id);
      out.push({ ...block, liquidity: known ? known.liquidity : null, backed: known ? known.backed : false });
    }
    return out;
  }

  applySnapshot(message) {
    this.applyState(message.state || {}, message.epoch ?? null, message.seq ?? null);
  }

  acceptDelta(message) {
    if (this.awaitingSnapshot) return "waiting";
    if (this.epoch !== null && message.epoch !== this.epoch) return "hole";
    if (this.seq !== null) {
      if (message.seq <= this.seq) return "duplicate";
      if (message.seq !== this.seq + 1) return "hole";
    }
    this.epoch = message.epoch;
    this.seq = message.seq;
    this.version += 1;
    const data = message.data || {};
    switch (message.kind) {
      case "zones":
        for (const zone of [...(data.added || []), ...(data.changed || [])]) this.zones.set(zone.id, zone);
        for (const id of data.removed || []) this.zones.delete(id);
        if (data.state) this.zoneState = data.state;
        return "applied";
      case "orderblocks":
        for (const block of [...(data.added || []), ...(data.changed || [])]) this.blocks.set(block.id, block);
        for (const id of data.removed || []) this.blocks.delete(id);
        return "applied";
      case "confluence":
        for (const entry of data.changed || []) {
          this.confluence.set(entry.id, { liquidity: entry.liquidity ?? null, backed: Boolean(entry.backed) });
        }
        if (data.state) this.confluenceState = data.state;
        return "applied";
      case "metrics":
        this.metrics = data;
        return "applied";
      case "status":
        this.status = { ...(this.status || {}), ...data };
        return "applied";
      case "candle":
        return "candle";
      default:
        return "applied";
    }
  }
}
