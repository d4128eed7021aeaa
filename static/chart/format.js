// Text for the legend and the tooltip.

const QUOTES = ["FDUSD", "USDT", "USDC", "EUR", "GBP", "TRY", "BTC", "ETH", "BNB"];

export function quoteOf(symbol) {
  return QUOTES.find((q) => symbol.endsWith(q) && symbol.length > q.length) || "";
}

// one formatter: toLocaleString with options builds a new one per call (~0.2 ms; the crosshair
// legend formats four prices per mouse move)
const PRICE_FORMAT = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatPrice(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "–";
  return PRICE_FORMAT.format(n);
}

export function formatNotional(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "–";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

export function formatAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function formatUtc(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

/** Wall strength (score x baseline); a near-empty baseline can make it astronomically large. */
export function formatStrength(value, digits = 1) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "–";
  return n >= 1000 ? ">999x" : `${n.toFixed(digits)}x`;
}

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text from the server placed into innerHTML. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
