// The page's headline: the book's state as the server last saw it, combined with the page's own
// connection. Never claims more than is known:
//   live                      the book is live, its last update is recent and the page is connected
//   stale                     the server says stale (since when), or says live but the page's last
//                             book update is older than staleAfterS (how long ago)
//   resyncing                 the server is rebuilding the book (snapshot)
//   reconnecting              the server is reconnecting to Binance (reason, attempt n)
//   unreachable               Binance has been unreachable since a time (UNREACHABLE_AFTER_S down)
//   server                    this page cannot reach the server (socket down, polls failing)
//   connecting                nothing known yet
// Anything but "live" freezes the walls, depth figures and bid/ask "as of" the last live moment.

import { formatAge } from "./format.js";

export const UNREACHABLE_AFTER_S = 30;
export const REASON_CHARS = 48; // the pill stays one line; the whole reason is its tooltip

/** A reason short enough for the pill: "connect failed: InvalidStatus: server rejec…". */
export function shortReason(reason) {
  const text = String(reason || "");
  return text.length > REASON_CHARS ? `${text.slice(0, REASON_CHARS - 1)}…` : text;
}

const clock = (ms) => new Date(ms).toISOString().slice(11, 19) + " UTC";

/**
 * @param {object} o
 * @param {boolean} o.serverReachable  the page's push socket is open, or its last poll answered
 * @param {object|null} o.book  the stream status ({status, reason, attempt, since_ms, ...})
 * @param {number|null} o.lastBookMs  when the page last saw a book update (metrics ts_ms)
 * @param {number} o.nowMs
 * @param {number} o.staleAfterS
 */
export function headline({ serverReachable, book, lastBookMs, nowMs, staleAfterS }) {
  if (!serverReachable) return { state: "server", text: "server unreachable", live: false };
  if (!book || !book.status) return { state: "connecting", text: "connecting", live: false };
  const status = book.status;
  if (status === "live" || status === "stale") {
    const ageS = lastBookMs === null || lastBookMs === undefined ? null : (nowMs - lastBookMs) / 1000;
    if (status === "live" && ageS !== null && ageS <= staleAfterS) return { state: "live", text: "live", live: true };
    // the server says stale: its publications go on (their time is not the book's), so say since when
    if (status === "stale" && book.since_ms) return { state: "stale", text: `stale since ${clock(book.since_ms)}`, live: false };
    const ago = ageS === null ? "" : ` (last book update ${formatAge(ageS)} ago)`;
    return { state: "stale", text: `stale${ago}`, live: false };
  }
  if (status === "syncing" || status === "resyncing") {
    const why = book.reason ? ` (${shortReason(book.reason)})` : "";
    return { state: "resyncing", text: `resyncing the book${why}`, live: false };
  }
  const sinceMs = book.since_ms ?? null;
  if (sinceMs !== null && (nowMs - sinceMs) / 1000 >= UNREACHABLE_AFTER_S) {
    return { state: "unreachable", text: `Binance unreachable since ${clock(sinceMs)}`, live: false };
  }
  const parts = [shortReason(book.reason), book.attempt ? `attempt ${book.attempt}` : null].filter(Boolean);
  const detail = parts.length ? ` (${parts.join(", ")})` : "";
  return { state: "reconnecting", text: `reconnecting to Binance${detail}`, live: false };
}

export function asOfText(ms) {
  return ms === null || ms === undefined ? "as of –" : `as of ${clock(ms)}`;
}
