"""Binance spot protocol simulator: a pure simulated market plus a local WS/REST server with faults."""
