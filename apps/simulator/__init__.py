"""The Binance spot protocol simulator (a Django app for its ``binance_sim`` command): a pure simulated
market plus a local WebSocket/REST server on one port, with fault injection. Entry point:
:class:`apps.simulator.server.BinanceSimulator`."""
