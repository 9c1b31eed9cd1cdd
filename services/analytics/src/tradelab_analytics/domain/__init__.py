"""Pure metrics of a backtest: numpy arrays in, plain floats out (conventions: docs/metrics.md)."""
