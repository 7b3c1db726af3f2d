"""Features for daily prices: returns, lagged returns and moving averages.

The target is the NEXT day's return, and every feature uses only data up to
the current day, so the models never see the future. Time series are split
by date, never shuffled, for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TARGET = "target_return"


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average: ``len(values) - window + 1`` values.

    Equal to ``pd.Series(values).rolling(window).mean().dropna()``; a
    plain-numpy reference for the GPU and Rust versions of the same function.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if not 1 <= window <= len(values):
        raise ValueError(f"window must be between 1 and the series length ({len(values)}), got {window}")
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    return (cumsum[window:] - cumsum[:-window]) / window


def make_features(
    prices: pd.DataFrame | pd.Series,
    lags: Sequence[int] = (1, 2, 3, 5, 10),
    windows: Sequence[int] = (5, 20, 60),
) -> pd.DataFrame:
    """Builds the feature table from a price series (or a frame with ``Close``).

    Columns: ``return_lag_<k>`` (log return k days ago; lag 1 is today's),
    ``ma_ratio_<w>`` (close over its w-day moving average, minus 1),
    ``volatility_<w>`` (w-day standard deviation of returns), and the
    target ``target_return`` (tomorrow's log return). Rows with missing
    values (the first ``max(windows)`` days and the last day, which has no
    tomorrow) are dropped.
    """
    close = prices["Close"] if isinstance(prices, pd.DataFrame) else prices
    close = close.astype("float64")
    log_return = np.log(close).diff()
    columns: dict[str, pd.Series] = {}
    for lag in lags:
        columns[f"return_lag_{lag}"] = log_return.shift(lag - 1)
    for window in windows:
        columns[f"ma_ratio_{window}"] = close / close.rolling(window).mean() - 1.0
        columns[f"volatility_{window}"] = log_return.rolling(window).std()
    columns[TARGET] = log_return.shift(-1)
    return pd.DataFrame(columns, index=close.index).dropna()


def split_xy(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Splits a :func:`make_features` table into features X and target y."""
    return table.drop(columns=[TARGET]), table[TARGET]


def time_split(
    X: pd.DataFrame, y: pd.Series, test_fraction: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Chronological train/test split: the test set is the last ``test_fraction``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    cut = int(len(X) * (1.0 - test_fraction))
    if cut < 1 or cut >= len(X):
        raise ValueError(f"{len(X)} rows are too few to split")
    return X.iloc[:cut], X.iloc[cut:], y.iloc[:cut], y.iloc[cut:]
