// Alerts on the page: a toast for each pushed alert, the list of recent alerts (GET /api/alerts on
// load, the pushed ones appended, re-fetched after a missed push), and browser notifications the
// user opts in to with a click (the Notification API asks for permission only from a click).

import { escapeHtml } from "./format.js";

export const MAX_LISTED = 100;
export const TOAST_MS = 8000;
export const MAX_TOASTS = 4;

/** The alerts of `known` and `incoming` together, once each (by key), oldest first, at most `max`. */
export function mergeAlerts(known, incoming, max = MAX_LISTED) {
  const byKey = new Map(known.map((a) => [a.key, a]));
  const added = [];
  for (const alert of incoming) {
    if (!alert || !alert.key) continue;
    if (!byKey.has(alert.key)) added.push(alert);
    byKey.set(alert.key, { ...(byKey.get(alert.key) || {}), ...alert });
  }
  const all = [...byKey.values()].sort((a, b) => a.ts_ms - b.ts_ms || (a.key < b.key ? -1 : 1));
  return { alerts: all.slice(Math.max(0, all.length - max)), added };
}

/** HH:MM:SS UTC of an alert. */
export function alertClock(alert) {
  return new Date(alert.ts_ms).toISOString().slice(11, 19);
}

const RULE_CLASS = {
  orderblock_entered: "alert-block",
  zone_pulled_in_block: "alert-pulled",
  zone_broken_in_block: "alert-broken",
  zone_confirmed_near_mid: "alert-zone",
  book_stale: "alert-stale",
  book_recovered: "alert-recovered",
};

export function ruleClass(rule) {
  return RULE_CLASS[rule] || "alert-other";
}

/** The since-parameter for a catch-up fetch: the newest known alert's second (inclusive), or none. */
export function catchUpFrom(alerts) {
  return alerts.length ? Math.floor(alerts[alerts.length - 1].ts_ms / 1000) : null;
}

function itemHtml(alert) {
  const delivery = alert.delivery && alert.delivery.state !== "off" ? ` · webhook ${escapeHtml(alert.delivery.state)}` : "";
  return (
    `<div class="alert-head"><span class="alert-title">${escapeHtml(alert.title)}</span>` +
    `<span class="muted">${alertClock(alert)} UTC${delivery}</span></div>` +
    `<div class="alert-text">${escapeHtml(alert.text)}</div>`
  );
}

export class AlertCenter {
  constructor({ api, list, count, toasts, toggle, panel, notify, now = () => Date.now() }) {
    this.api = api;
    this.listEl = list;
    this.countEl = count;
    this.toastsEl = toasts;
    this.panelEl = panel;
    this.notifyButton = notify;
    this.now = now;
    this.alerts = [];
    this.toasted = 0;
    this.notified = 0;
    this.loadError = null;
    toggle.addEventListener("click", () => this.setOpen(this.panelEl.hidden));
    notify.addEventListener("click", () => this.askPermission());
    this.updateNotifyButton();
  }

  setOpen(open) {
    this.panelEl.hidden = !open;
    this.render();
  }

  async load(from = null) {
    const url = from === null ? this.api : `${this.api}?from=${from}`;
    try {
      const response = await fetch(url, { cache: "no-cache" });
      if (!response.ok) throw new Error(`alerts: HTTP ${response.status}`);
      const body = await response.json();
      this.alerts = mergeAlerts(this.alerts, body.alerts || []).alerts;
      this.loadError = null;
    } catch (err) {
      this.loadError = err.message;
    }
    this.render();
  }

  /** A snapshot after a hole or a reconnect: alerts pushed meanwhile were missed, fetch them. */
  catchUp() {
    return this.load(catchUpFrom(this.alerts));
  }

  onPush(alert) {
    const merged = mergeAlerts(this.alerts, [alert]);
    this.alerts = merged.alerts;
    for (const fresh of merged.added) {
      this.toast(fresh);
      this.notify(fresh);
    }
    this.render();
  }

  toast(alert) {
    const el = document.createElement("div");
    el.className = `toast ${ruleClass(alert.rule)}`;
    el.setAttribute("role", "status");
    el.dataset.key = alert.key;
    el.innerHTML = itemHtml(alert);
    el.addEventListener("click", () => el.remove());
    this.toastsEl.append(el);
    while (this.toastsEl.children.length > MAX_TOASTS) this.toastsEl.firstElementChild.remove();
    setTimeout(() => el.remove(), TOAST_MS);
    this.toasted += 1;
  }

  notify(alert) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      new Notification(alert.title, { body: alert.text, tag: alert.key });
      this.notified += 1;
    } catch {
      // some browsers only allow notifications from a service worker: the toast still shows
    }
  }

  async askPermission() {
    if (!("Notification" in window)) return;
    try {
      await Notification.requestPermission();
    } finally {
      this.updateNotifyButton();
    }
  }

  updateNotifyButton() {
    const supported = "Notification" in window;
    const permission = supported ? Notification.permission : "unsupported";
    const button = this.notifyButton;
    button.hidden = !supported;
    button.disabled = permission !== "default";
    button.textContent = permission === "granted" ? "Notifications on" : permission === "denied" ? "Notifications blocked" : "Notify me";
    button.title =
      permission === "default"
        ? "Show alerts as browser notifications (the browser asks you first)"
        : permission === "granted"
          ? "Alerts also appear as browser notifications"
          : "Notifications are blocked for this site in the browser's settings";
  }

  render() {
    this.countEl.textContent = String(this.alerts.length);
    if (this.panelEl.hidden) return;
    if (this.loadError && !this.alerts.length) {
      this.listEl.innerHTML = `<li class="muted">alerts unavailable (${escapeHtml(this.loadError)})</li>`;
      return;
    }
    if (!this.alerts.length) {
      this.listEl.innerHTML = `<li class="muted">no alerts yet</li>`;
      return;
    }
    this.listEl.innerHTML = [...this.alerts]
      .reverse()
      .map((a) => `<li class="alert-item ${ruleClass(a.rule)}" data-key="${escapeHtml(a.key)}">${itemHtml(a)}</li>`)
      .join("");
  }
}
