"""Data: deterministic synthetic data sets, and a small CSV cache for prices.

Everything here works offline, so tests and notebooks run anywhere (the Nix
build sandbox has no network).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_prices(
    n_days: int = 1500,
    seed: int = 0,
    start: str = "2015-01-02",
    start_price: float = 4000.0,
    momentum: float = 0.15,
    volatility: float = 0.011,
) -> pd.DataFrame:
    """A deterministic daily price series with the columns of a market download.

    Daily log returns follow an AR(1) process (``momentum`` is today's share
    of yesterday's return), so there is a little for the models to learn, as
    in real indices, unlike a pure random walk. The same seed always gives
    the same data.
    """
    if n_days < 2:
        raise ValueError("n_days must be at least 2")
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, volatility, n_days)
    returns = np.empty(n_days)
    returns[0] = shocks[0]
    for t in range(1, n_days):
        returns[t] = momentum * returns[t - 1] + shocks[t]
    close = start_price * np.exp(np.cumsum(returns))
    # Open/High/Low around the close, so code written for real OHLC data runs.
    open_ = close * np.exp(rng.normal(0.0, volatility / 4, n_days))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, volatility / 3, n_days)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, volatility / 3, n_days)))
    volume = rng.integers(50_000_000, 150_000_000, n_days)
    index = pd.bdate_range(start=start, periods=n_days, name="Date")
    return pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume},
        index=index,
    )


def synthetic_regression(
    n_samples: int = 2000,
    n_features: int = 8,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic regression problem with a non-linear part.

    ``y`` is linear in the first half of the features plus a sine of the first
    feature, so a neural network can beat the linear baseline.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    weights = np.zeros(n_features, dtype=np.float32)
    weights[: max(1, n_features // 2)] = rng.uniform(-2, 2, max(1, n_features // 2))
    y = X @ weights + np.sin(3 * X[:, 0]) + rng.normal(0, noise, n_samples)
    return X, y.astype(np.float32)


def save_prices(prices: pd.DataFrame, path: str | Path) -> Path:
    """Writes prices to a CSV file (the cache for offline runs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prices.to_csv(path)
    return path


def load_prices_csv(path: str | Path) -> pd.DataFrame:
    """Reads prices written by :func:`save_prices` (a Date index, a Close column)."""
    prices = pd.read_csv(path, index_col=0, parse_dates=True)
    prices.index.name = "Date"
    if "Close" not in prices.columns:
        raise ValueError(f"{path}: no 'Close' column (columns: {list(prices.columns)})")
    return prices
