"""Replay of a recorded Binance session (apps/recording) over the simulator's servers."""
