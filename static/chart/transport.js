// Push first, REST as fallback.
//
// modes (the connection pill):
//   connecting    first WebSocket attempt
//   live          WebSocket open and the state snapshot received
//   reconnecting  WebSocket down, the next attempt is scheduled (full-jitter backoff)
//   polling       WebSocket down, state kept fresh by GET /api/overlays every pollIntervalMs
// The WebSocket keeps retrying while polling; its first snapshot stops the polling.

const ACK_EVERY = 16;

/** Full-jitter backoff: a uniform delay in [0, min(cap, base * 2^attempt)] ms. */
export function backoffDelay(attempt, baseMs, capMs, random = Math.random) {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
const ACK_INTERVAL_MS = 5000;
const SILENCE_RESYNC_MS = 20000;
const SILENCE_CLOSE_MS = 30000;

export class LiveTransport {
  constructor(options) {
    this.wsUrl = options.wsUrl;
    this.pollIntervalMs = options.pollIntervalMs || 3000;
    this.backoffBaseMs = options.backoffBaseMs || 500;
    this.backoffCapMs = options.backoffCapMs || 15000;
    this.random = options.random || Math.random;
    this.handlers = options.handlers; // {snapshot(msg), delta(msg) -> store verdict, polled(), poll() -> Promise, mode(m)}
    this.mode = "connecting";
    this.serverReachable = true; // the page was just served; false once the socket is down and a poll failed
    this.ws = null;
    this.attempt = 0;
    this.received = 0;
    this.acked = 0;
    this.lastMessageAt = 0;
    this.lastAckAt = 0;
    this._probing = false;
    this.pollTimer = null;
    this.reconnectTimer = null;
    this.blockedUntil = 0;
    this.counts = {
      snapshots: 0, deltas: 0, holes: 0, polls: 0, pollErrors: 0, connects: 0, disconnects: 0, fragmented: 0,
    };
    this.fragments = null;
    this.lastDelay = null;
    this.housekeepingTimer = setInterval(() => this._housekeeping(), 1000);
  }

  stop() {
    clearInterval(this.housekeepingTimer);
    this._stopPolling();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ws) this.ws.close(1000, "page closed");
  }

  /** "ws" while pushing, "polling" while REST keeps the state, "none" in between. */
  get transport() {
    if (this.mode === "live") return "ws";
    if (this.mode === "polling") return "polling";
    return "none";
  }

  start() {
    this._connect();
  }

  /** Debug/testing: drop the socket and refuse to reconnect for `blockMs`. */
  dropSocket(blockMs = 0) {
    this.blockedUntil = Date.now() + blockMs;
    if (this.ws) this.ws.close(4000, "dropped by client");
  }

  requestResync() {
    this.counts.holes += 1;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this._send({ action: "resync" });
      return "socket";
    }
    this._pollOnce();
    return "rest";
  }

  _setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.handlers.mode(mode);
  }

  _connect() {
    this.reconnectTimer = null;
    if (Date.now() < this.blockedUntil) {
      this._scheduleReconnect();
      return;
    }
    let ws;
    try {
      ws = new WebSocket(this.wsUrl);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.fragments = null;
    this.received = 0;
    this.acked = 0;
    ws.onopen = () => {
      this.counts.connects += 1;
      this.serverReachable = true;
      this.lastMessageAt = Date.now();
    };
    ws.onmessage = (event) => this._onMessage(ws, event);
    ws.onclose = () => this._onClose(ws);
  }

  _onMessage(ws, event) {
    if (ws !== this.ws) return;
    this.received += 1;
    this.lastMessageAt = Date.now();
    let message;
    try {
      message = JSON.parse(event.data);
      if (message.type === "fragment") message = this._joinFragment(message);
    } catch (err) {
      this.fragments = null;
      return;
    }
    if (message !== null) this._dispatch(message);
    if (this.received - this.acked >= ACK_EVERY) this._ack();
  }

  /** Large messages arrive as consecutive fragments; returns the joined message or null. */
  _joinFragment(fragment) {
    if (fragment.index === 0) this.fragments = { id: fragment.id, chunks: [] };
    if (!this.fragments || this.fragments.id !== fragment.id || this.fragments.chunks.length !== fragment.index) {
      this.fragments = null; // a fragment went missing: drop the message, the seq check recovers
      return null;
    }
    this.fragments.chunks.push(fragment.chunk);
    if (this.fragments.chunks.length < fragment.count) return null;
    const text = this.fragments.chunks.join("");
    this.fragments = null;
    this.counts.fragmented += 1;
    return JSON.parse(text);
  }

  _dispatch(message) {
    if (message.type === "snapshot") {
      this.counts.snapshots += 1;
      this.attempt = 0;
      this._stopPolling();
      this.handlers.snapshot(message);
      this._setMode("live");
    } else if (message.type === "delta") {
      this.counts.deltas += 1;
      const verdict = this.handlers.delta(message);
      if (verdict === "hole") this.requestResync();
    }
  }

  _onClose(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.counts.disconnects += 1;
    if (this.mode !== "polling") this._setMode("reconnecting");
    this._startPolling();
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.reconnectTimer !== null) return;
    const blockedFor = Math.max(0, this.blockedUntil - Date.now());
    const delay = Math.max(blockedFor, backoffDelay(this.attempt, this.backoffBaseMs, this.backoffCapMs, this.random));
    this.attempt += 1;
    this.lastDelay = delay;
    this.reconnectTimer = setTimeout(() => this._connect(), delay);
  }

  _startPolling() {
    if (this.pollTimer !== null) return;
    this._pollOnce();
    this.pollTimer = setInterval(() => this._pollOnce(), this.pollIntervalMs);
  }

  _stopPolling() {
    if (this.pollTimer === null) return;
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  async _pollOnce() {
    try {
      await this.handlers.poll();
      this.counts.polls += 1;
      this.serverReachable = true;
      if (this.mode !== "live") this._setMode("polling");
    } catch (err) {
      this.counts.pollErrors += 1;
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) this.serverReachable = false;
      if (this.mode === "polling") this._setMode("reconnecting");
    }
  }

  _ack() {
    this.lastAckAt = Date.now();
    this.acked = this.received;
    this._send({ action: "ack", received: this.received });
  }

  _send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  _housekeeping() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const silentFor = Date.now() - this.lastMessageAt;
    // keep the server's in-flight window open even when few messages arrive
    if (this.received > this.acked && Date.now() - this.lastAckAt >= ACK_INTERVAL_MS) this._ack();
    if (silentFor >= SILENCE_CLOSE_MS) {
      ws.close(4001, "silent socket");
    } else if (silentFor >= SILENCE_RESYNC_MS && !this._probing) {
      this._probing = true;
      this._send({ action: "resync" });
      setTimeout(() => {
        this._probing = false;
      }, SILENCE_CLOSE_MS - SILENCE_RESYNC_MS);
    }
  }
}
