"""Service configuration read from environment variables.

Every setting has the spec default and is validated once at start-up; a bad value raises
``ConfigError`` naming the variable.  This module is pure (no Django imports) so it can be
unit-tested with a plain dict as the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from apps.core.origins import parse_origin

BASE_DIR = Path(__file__).resolve().parent.parent

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration variable has a value the service cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Setting:
    """Describes one environment variable: name, default, parser and help text."""

    env: str
    default: str
    parse: Callable[[str], Any]
    help: str


def _int_between(low: int, high: int) -> Callable[[str], int]:
    """An integer in [low, high]: anything else (a fraction, 1e9, an absurd size) is refused."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?\d{1,19}\s*", text):
            raise ValueError(f"must be a whole number between {low:,} and {high:,}")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low:,} and {high:,}")
        return value

    return parse


def _number_between(low: float, high: float, *, allow_low: bool = False) -> Callable[[str], float]:
    """A finite number in (low, high] (or [low, high] with allow_low): inf, nan and absurd
    durations are refused, as a typo would otherwise disable a watchdog or a timeout."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        above_low = value >= low if allow_low else value > low
        if not (above_low and value <= high):  # false for nan too
            bound = "from" if allow_low else "above"
            raise ValueError(f"must be a number {bound} {low:g} up to {high:g}")
        return value

    return parse


def _decimal_between(low: Decimal, high: Decimal) -> Callable[[str], Decimal]:
    """A finite decimal in (low, high]."""

    def parse(text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError("must be a decimal number") from exc
        if not value.is_finite() or not low < value <= high:
            raise ValueError(f"must be a decimal number above {low} up to {high}")
        return value

    return parse


DAY_S = 86_400.0
YEAR_H = 8_760.0


def _or_unset(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    """``parse``, or None for an empty value (the setting then follows another one)."""

    def parse_or_unset(text: str) -> T | None:
        return None if text.strip() == "" else parse(text)

    return parse_or_unset


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be one of 1/0, true/false, yes/no, on/off")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


def _ws_url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme not in {"ws", "wss"} or not parsed.netloc:
        raise ValueError("must be a ws:// or wss:// URL with a host")
    return text.rstrip("/")


def _http_url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError("must be an http:// or https:// URL with a host")
    return text.rstrip("/")


def _symbol(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]{2,20}", text):
        raise ValueError("must be a Binance symbol such as BTCEUR")
    return text.upper()


def _database_url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme == "sqlite":
        if not parsed.path or parsed.path == "/":
            raise ValueError("sqlite URL needs a path: sqlite:///absolute/path.sqlite3")
        return text
    if parsed.scheme in {"postgres", "postgresql"}:
        if not parsed.path.strip("/"):
            raise ValueError("postgres URL needs a database name: postgres://user:pw@host:5432/db")
        try:
            parsed.port  # noqa: B018  (urllib checks the port when it is read)
        except ValueError as exc:
            raise ValueError(f"postgres URL has a bad port: {exc}") from None
        return text
    raise ValueError("must start with sqlite:/// or postgres://")


def _redis_url(text: str) -> str:
    if text == "":
        return ""
    parsed = urlparse(text)
    if parsed.scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("must be a redis:// URL (or empty for the in-memory channel layer)")
    return text


def _table_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", text):
        raise ValueError("must be a plain SQL table name")
    return text


def _record_dir(text: str) -> str:
    """Empty (no recording) or a directory, created at start if missing; never an existing file."""
    text = text.strip()
    if text and Path(text).exists() and not Path(text).is_dir():
        raise ValueError("must be a directory (or empty: no recording)")
    return text


def _host_list(text: str) -> list[str]:
    hosts = [h.strip() for h in text.split(",") if h.strip()]
    if not hosts:  # Django would then answer every request 400
        raise ValueError("must name at least one host the service is reached by (e.g. localhost)")
    return hosts


def _origin_list(text: str) -> list[str]:
    """Comma-separated full origins (https://host[:port]), each normalised (explicit port)."""
    return [str(parse_origin(item.strip())) for item in text.split(",") if item.strip()]


DEFAULT_SQLITE = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DEMO_SQLITE = f"sqlite:///{BASE_DIR / 'var' / 'demo.sqlite3'}"
REPLAY_SQLITE = f"sqlite:///{BASE_DIR / 'var' / 'replay.sqlite3'}"


def is_demo_command(argv: list[str]) -> bool:
    """`manage.py serve ... --simulator` (what `make demo` runs)."""
    return len(argv) > 1 and argv[1] == "serve" and "--simulator" in argv[2:]


def is_replay_command(argv: list[str]) -> bool:
    """`manage.py serve ... --replay FILE...`."""
    return len(argv) > 1 and argv[1] == "serve" and "--replay" in argv[2:]


def demo_database_default(argv: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a command starts with: the demo keeps its own database (var/demo.sqlite3),
    and a replay its own (var/replay.sqlite3), unless DATABASE_URL names one, so simulated or
    replayed data never lands in the real one by default."""
    if "DATABASE_URL" in environ:
        return {}
    if is_demo_command(argv):
        return {"DATABASE_URL": DEMO_SQLITE}
    if is_replay_command(argv):
        return {"DATABASE_URL": REPLAY_SQLITE}
    return {}


SETTINGS: tuple[Setting, ...] = (
    # exchange connection
    Setting("BINANCE_WS_URL", "wss://stream.binance.com:9443", _ws_url, "Binance WebSocket base URL"),
    Setting("BINANCE_REST_URL", "https://api.binance.com", _http_url, "Binance REST base URL"),
    Setting("SYMBOL", "BTCEUR", _symbol, "The one spot symbol this service follows"),
    Setting("DEPTH_SPEED", "100ms", _choice("100ms", "1000ms"), "Diff-depth stream cadence"),
    Setting("SNAPSHOT_LIMIT", "5000", _int_between(5, 5000), "Levels per side requested from /api/v3/depth"),
    Setting("WATCHDOG_S", "10", _number_between(0, 3600), "No depth event for this long forces a reconnect"),
    Setting(
        "RECONNECT_AFTER_S",
        "84600",
        _number_between(60, DAY_S),
        "Proactive make-before-break reconnect age (Binance drops at 24 h)",
    ),
    Setting("BACKOFF_BASE_S", "0.5", _number_between(0, 60), "Reconnect backoff base (full jitter)"),
    Setting("BACKOFF_CAP_S", "30", _number_between(0, 3600), "Reconnect backoff cap"),
    Setting(
        "BUFFER_MAX_EVENTS",
        "10000",
        _int_between(1, 1_000_000),
        "Bounded event buffer; overflow forces a resync",
    ),
    Setting("REST_TIMEOUT_S", "10", _number_between(0, 300), "REST request timeout"),
    Setting("REST_WEIGHT_LIMIT_1M", "6000", _int_between(1, 1_000_000), "Binance request weight per minute"),
    Setting(
        "REST_WEIGHT_RESERVE", "1000", _int_between(0, 1_000_000), "Weight kept free for other REST users"
    ),
    # publication
    Setting("PUBLISH_INTERVAL_MS", "1000", _int_between(50, 60_000), "Publication and zone cycle interval"),
    Setting("PUBLISH_TOP_N", "100", _int_between(1, 5000), "Levels per side in the published book"),
    Setting("IMBALANCE_TOP_N", "20", _int_between(1, 5000), "Levels per side used for imbalance_topn"),
    Setting("STALE_AFTER_S", "5", _number_between(0, DAY_S), "Published book older than this reads as stale"),
    Setting(
        "HEALTH_STALE_S",
        "10",
        _number_between(0, DAY_S),
        "/api/health answers 503 once the book has not been live for longer than this",
    ),
    Setting(
        "HEALTH_MAX_MISSED_PUBLICATIONS",
        "3",
        _int_between(1, 1_000_000),
        "/api/health is not ok (503) once this many publications in a row are missing (a failing database)",
    ),
    Setting("METRICS_RETENTION_H", "24", _number_between(0, 10 * YEAR_H), "orderbook_metrics retention"),
    # zones
    Setting(
        "ZONE_RANGE_PCT",
        "1.0",
        _decimal_between(Decimal(0), Decimal(100)),
        "Analysed band around mid, percent",
    ),
    Setting(
        "ZONE_BIN_SIZE", "50", _decimal_between(Decimal(0), Decimal(10) ** 9), "Bin width in quote currency"
    ),
    Setting(
        "ZONE_BIN_ROUNDING",
        "floor_ceil",
        _choice("floor_ceil", "half_up"),
        "Bin assignment: floor for bids/ceil for asks, or round-half-up for both",
    ),
    Setting("ZONE_VOLUME_MODE", "qty", _choice("qty", "notional"), "Bin volume: sum(qty) or sum(qty*price)"),
    Setting("ZONE_BASELINE_K", "3", _int_between(0, 10_000), "Median window half-width in bins"),
    Setting(
        "ZONE_BASELINE_EPS",
        "0.00000001",
        _decimal_between(Decimal(0), Decimal(10) ** 9),
        "Floor for a bin's baseline volume in score = vol / max(baseline, eps)",
    ),
    Setting("ZONE_WALL_MULTIPLIER", "4.0", _number_between(0, 1e6), "Score that makes a wall bin"),
    Setting("ZONE_MAX_GAP_BINS", "1", _int_between(0, 10_000), "Max empty bins between merged wall bins"),
    Setting("ZONE_CONFIRM_S", "30", _number_between(0, DAY_S), "Persistence needed to confirm a zone"),
    Setting(
        "ZONE_CONFIRM_CYCLES", "5", _int_between(1, 1_000_000), "Cycles in a row with strength >= threshold"
    ),
    Setting(
        "ZONE_STRENGTH_THRESHOLD", "4.0", _number_between(0, 1e6), "Strength needed in each confirm cycle"
    ),
    Setting(
        "ZONE_GRACE_CYCLES", "2", _int_between(1, 1_000_000), "Missing cycles before a zone has disappeared"
    ),
    Setting(
        "ZONE_DISCARD_S", "10", _number_between(0, DAY_S), "Zones that lived less than this are discarded"
    ),
    Setting(
        "ZONE_LINGER_S", "60", _number_between(0, 7 * DAY_S), "Broken/pulled zones stay visible this long"
    ),
    Setting(
        "ZONE_DRAW_MIN_S",
        "5",
        _number_between(0, DAY_S, allow_low=True),
        "The page draws a candidate zone once it stood this long",
    ),
    Setting(
        "ZONE_HISTORY_RETENTION_H",
        "24",
        _number_between(0, 10 * YEAR_H),
        "orderbook_zones_history retention",
    ),
    Setting(
        "ZONE_HISTORY_H",
        "24",
        _number_between(0, 10 * YEAR_H),
        "Ended zones (broken, pulled, merged) stay in /api/zones/history this long",
    ),
    # heatmap
    Setting(
        "HEATMAP_BIN_SIZE",
        "",
        _or_unset(_decimal_between(Decimal(0), Decimal(10) ** 9)),
        "Heatmap bin width in quote currency (empty: ZONE_BIN_SIZE)",
    ),
    Setting(
        "HEATMAP_RANGE_PCT",
        "2.0",
        _decimal_between(Decimal(0), Decimal(100)),
        "Heatmap band around mid, percent",
    ),
    Setting(
        "HEATMAP_COLUMN_S",
        "60",
        _int_between(1, 86_400),
        "Seconds of publication cycles per heatmap column",
    ),
    Setting("HEATMAP_RETENTION_H", "168", _number_between(0, 10 * YEAR_H), "Heatmap columns retention"),
    # confluence (order blocks x liquidity)
    Setting(
        "CONFLUENCE_PAD_BINS",
        "1",
        _int_between(0, 1000),
        "Zone bins (ZONE_BIN_SIZE) added on each side of an order block's range when its liquidity is measured",
    ),
    Setting(
        "CONFLUENCE_CHANGE_PCT",
        "10",
        _number_between(0, 100, allow_low=True),
        "A block's liquidity is pushed again once its quantity, score or 1h average moved by this percent of the value last pushed (0: any change)",
    ),
    # order blocks
    Setting("CANDLE_TABLE", "btc_eur_1h", _table_name, "1h OHLCV source table"),
    Setting(
        "CANDLE_RETENTION_D_INTRADAY",
        "30",
        _number_between(0, 3650),
        "Days of 5m and 15m candles kept (their tables: CANDLE_TABLE with _5m/_15m for _1h); older ones are pruned",
    ),
    Setting("OB_ATR_PERIOD", "14", _int_between(1, 10_000), "ATR period"),
    Setting("OB_ATR_METHOD", "wilder", _choice("wilder", "sma"), "ATR smoothing"),
    Setting("OB_FRACTAL_N", "3", _int_between(1, 1_000), "Fractal swing half-width"),
    Setting("OB_DISPLACEMENT_K", "1.2", _number_between(0, 1_000), "Displacement range in ATRs"),
    Setting("OB_ZONE_MODE", "conservative", _choice("conservative", "aggressive"), "Order-block zone bounds"),
    Setting(
        "CANDLE_GAP_MAX_H",
        "48",
        _int_between(1, 1_000_000),
        "A candle-history gap longer than this stops the order-block run (an error, not a warning)",
    ),
    Setting(
        "OB_WARMUP_BARS", "1000", _int_between(1, 10_000_000), "Bars recomputed by the incremental hourly run"
    ),
    Setting(
        "OB_RUN_DELAY_S", "5", _int_between(0, 3600), "Seconds after a candle closes before the hourly run"
    ),
    # reactions
    Setting(
        "REACTION_RETENTION_D",
        "365",
        _number_between(0, 3650),
        "Days an order block's reaction (what liquidity and price did after its first touch) is kept",
    ),
    # alerts
    Setting(
        "ALERT_RULE_ORDERBLOCK_ENTERED",
        "1",
        _bool,
        "Alert when a trade enters a fresh order block",
    ),
    Setting(
        "ALERT_RULE_ZONE_ENDED_IN_BLOCK",
        "1",
        _bool,
        "Alert when a confirmed zone inside or within one bin of an active order block is pulled or broken",
    ),
    Setting(
        "ALERT_RULE_ZONE_CONFIRMED_NEAR_MID",
        "1",
        _bool,
        "Alert when a zone is confirmed with strength >= ALERT_MIN_STRENGTH within ALERT_NEAR_PCT of mid",
    ),
    Setting(
        "ALERT_RULE_BOOK_STALE",
        "1",
        _bool,
        "Alert when the book has not been live for more than ALERT_STALE_S, and when it recovers",
    ),
    Setting(
        "ALERT_MIN_STRENGTH",
        "8",
        _number_between(0, 1e6),
        "Strength a newly confirmed zone needs for the near-mid alert (twice the confirm threshold)",
    ),
    Setting(
        "ALERT_NEAR_PCT",
        "0.5",
        _decimal_between(Decimal(0), Decimal(100)),
        "How close to mid (percent) a newly confirmed zone must be for the near-mid alert",
    ),
    Setting("ALERT_STALE_S", "30", _number_between(0, DAY_S), "Seconds not live before the stale-book alert"),
    Setting(
        "ALERT_COOLDOWN_S",
        "300",
        _number_between(0, DAY_S, allow_low=True),
        "A rule alerts at most once per this many seconds for the same block, zone or book",
    ),
    Setting("ALERT_RETENTION_D", "30", _number_between(0, 3650), "Days alerts are kept (GET /api/alerts)"),
    Setting(
        "ALERT_WEBHOOK_URL",
        "",
        _or_unset(_http_url),
        "POST each alert as JSON here (Slack/Mattermost/Discord incoming webhooks accept it); empty: off",
    ),
    Setting("ALERT_WEBHOOK_TIMEOUT_S", "5", _number_between(0, 120), "Timeout of one webhook attempt"),
    Setting(
        "ALERT_WEBHOOK_MAX_ATTEMPTS",
        "8",
        _int_between(1, 100),
        "Webhook attempts per alert before it is given up (recorded)",
    ),
    Setting(
        "ALERT_WEBHOOK_BACKOFF_S",
        "1",
        _number_between(0, 3600),
        "Wait before the first webhook retry; doubles per attempt, at most 60 s",
    ),
    # web
    Setting("RENDER_TOUCHED", "true", _bool, "Draw touched order blocks (styled differently)"),
    Setting(
        "OB_DISPLAY_ATR",
        "10",
        _number_between(0, 1e6),
        "The page shows active order blocks within this many ATR(14) of the last close by default",
    ),
    Setting(
        "OB_DISPLAY_MAX",
        "10",
        _int_between(1, 10_000),
        "... and at most this many per direction, nearest first",
    ),
    Setting("API_MAX_LIMIT", "5000", _int_between(1, 1_000_000), "Cap for ?limit= on list endpoints"),
    Setting(
        "MAX_REQUEST_BODY",
        "65536",
        _int_between(1024, 1_073_741_824),
        "Bytes of request body accepted; a larger body is refused with 413 before it is buffered",
    ),
    Setting(
        "HEALTH_DETAILS",
        "0",
        _bool,
        "/api/health also shows the answering pid and the demo simulator's control URL",
    ),
    # WebSocket clients
    Setting(
        "WS_MAX_PER_IP",
        "32",
        _int_between(1, 100_000),
        "Open /ws/overlays connections per client address (IPv6: per /64) and web process; more close with 1008",
    ),
    Setting(
        "WS_ALLOWED_ORIGINS",
        "",
        _origin_list,
        "Comma-separated origins (https://host[:port]) allowed besides the request's own",
    ),
    # recording (apps/recording)
    Setting(
        "RECORD_DIR",
        "",
        _record_dir,
        "Empty: off. A directory: the streamer records its Binance frames and REST answers there "
        "(hourly gzip files)",
    ),
    Setting(
        "RECORD_QUEUE_LINES",
        "100000",
        _int_between(100, 10_000_000),
        "Lines the recorder holds for its writer thread; beyond, new lines are dropped and counted",
    ),
    # infrastructure
    Setting("DATABASE_URL", DEFAULT_SQLITE, _database_url, "sqlite:///abs/path.sqlite3 or postgres://..."),
    Setting("REDIS_URL", "", _redis_url, "Empty: in-memory channel layer; redis://host:port/0 for scale-out"),
    Setting("SQLITE_BUSY_TIMEOUT_S", "20", _number_between(0, 3600), "SQLite busy timeout"),
    Setting("DJANGO_DEBUG", "false", _bool, "Django DEBUG"),
    Setting("DJANGO_SECRET_KEY", "dev-insecure-change-me", str, "Django SECRET_KEY"),
    Setting("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]", _host_list, "Comma-separated Host names"),
    Setting("LOG_LEVEL", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "Log level"),
    Setting(
        "GC_GEN0_THRESHOLD",
        "50000",
        _int_between(0, 10_000_000),
        "Python GC young-generation threshold for server processes (0: Python's default, 700)",
    ),
)


@dataclass(frozen=True)
class Config:
    """Validated settings; attribute names are the lower-cased variable names."""

    binance_ws_url: str
    binance_rest_url: str
    symbol: str
    depth_speed: str
    snapshot_limit: int
    watchdog_s: float
    reconnect_after_s: float
    backoff_base_s: float
    backoff_cap_s: float
    buffer_max_events: int
    rest_timeout_s: float
    rest_weight_limit_1m: int
    rest_weight_reserve: int
    publish_interval_ms: int
    publish_top_n: int
    imbalance_top_n: int
    stale_after_s: float
    health_stale_s: float
    health_max_missed_publications: int
    metrics_retention_h: float
    zone_range_pct: Decimal
    zone_bin_size: Decimal
    zone_bin_rounding: str
    zone_volume_mode: str
    zone_baseline_k: int
    zone_baseline_eps: Decimal
    zone_wall_multiplier: float
    zone_max_gap_bins: int
    zone_confirm_s: float
    zone_confirm_cycles: int
    zone_strength_threshold: float
    zone_grace_cycles: int
    zone_discard_s: float
    zone_linger_s: float
    zone_draw_min_s: float
    zone_history_retention_h: float
    zone_history_h: float
    heatmap_bin_size: Decimal
    heatmap_range_pct: Decimal
    heatmap_column_s: int
    heatmap_retention_h: float
    confluence_pad_bins: int
    confluence_change_pct: float
    candle_table: str
    candle_retention_d_intraday: float
    ob_atr_period: int
    ob_atr_method: str
    ob_fractal_n: int
    ob_displacement_k: float
    ob_zone_mode: str
    ob_warmup_bars: int
    candle_gap_max_h: int
    ob_run_delay_s: int
    reaction_retention_d: float
    alert_rule_orderblock_entered: bool
    alert_rule_zone_ended_in_block: bool
    alert_rule_zone_confirmed_near_mid: bool
    alert_rule_book_stale: bool
    alert_min_strength: float
    alert_near_pct: Decimal
    alert_stale_s: float
    alert_cooldown_s: float
    alert_retention_d: float
    alert_webhook_url: str | None
    alert_webhook_timeout_s: float
    alert_webhook_max_attempts: int
    alert_webhook_backoff_s: float
    render_touched: bool
    ob_display_atr: float
    ob_display_max: int
    api_max_limit: int
    max_request_body: int
    health_details: bool
    ws_max_per_ip: int
    ws_allowed_origins: list[str]
    record_dir: str
    record_queue_lines: int
    database_url: str
    redis_url: str
    sqlite_busy_timeout_s: float
    django_debug: bool
    django_secret_key: str
    allowed_hosts: list[str]
    log_level: str
    gc_gen0_threshold: int


def load_config(environ: Mapping[str, str]) -> Config:
    """Parse and validate every setting; raise ConfigError naming the first bad variable."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env, setting.default)
        try:
            values[setting.env.lower()] = setting.parse(raw)
        except (ValueError, ArithmeticError) as exc:
            raise ConfigError(setting.env, f"{exc} (got {raw!r})") from None
    if values["heatmap_bin_size"] is None:  # unset: the zones' grid
        values["heatmap_bin_size"] = values["zone_bin_size"]
    known = {f.name for f in fields(Config)}
    missing = known - values.keys()
    if missing:  # a programming error, not a user error
        raise RuntimeError(f"settings without a variable: {sorted(missing)}")
    return Config(**values)
