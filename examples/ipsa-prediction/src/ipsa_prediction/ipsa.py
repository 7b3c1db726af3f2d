"""The IPSA prediction example: tomorrow's return of Chile's S&P IPSA index.

Data comes from Yahoo Finance (ticker ``^IPSA``) through yfinance. Without
yfinance or without network, it comes from a CSV cache of an earlier
download, and failing that from deterministic synthetic prices; the
returned ``source`` and ``note`` always say which.

Run it with ``python -m ipsa_prediction.ipsa`` (``--offline`` for synthetic data).

Predicting daily index returns is hard: a model that gets the sign right a
bit more than half of the time is doing well. Compare every model with the
baseline and with "predict 0".
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import data, features, models

TICKER = "^IPSA"
DEFAULT_START = "2015-01-01"


@dataclass
class PriceData:
    """Daily prices and where they come from."""

    prices: pd.DataFrame
    #: "yfinance", "cache" or "synthetic".
    source: str
    #: One sentence for humans: what the data is, and why.
    note: str

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


def download_ipsa(start: str = DEFAULT_START, end: str | None = None, timeout: int = 20) -> pd.DataFrame:
    """Downloads daily ^IPSA prices with yfinance; raises when that fails."""
    import yfinance as yf

    history = yf.Ticker(TICKER).history(start=start, end=end, auto_adjust=False, timeout=timeout)
    if history is None or history.empty:
        raise RuntimeError(f"yfinance returned no data for {TICKER} (offline, or Yahoo changed its API?)")
    # Dates without time zone and time, and the usual columns only.
    history.index = pd.DatetimeIndex(history.index).tz_localize(None).normalize()
    history.index.name = "Date"
    return history[["Open", "High", "Low", "Close", "Volume"]].dropna(subset=["Close"])


def load_ipsa(
    start: str = DEFAULT_START,
    end: str | None = None,
    cache: str | Path | None = None,
    offline: bool | None = None,
) -> PriceData:
    """IPSA prices: yfinance, else the CSV ``cache``, else synthetic prices.

    A successful download is written to ``cache`` (when given), so the next
    offline run uses real data. ``offline=None`` reads the environment
    variable ``NIXCUDA_OFFLINE`` ("1" means offline).
    """
    if offline is None:
        offline = os.environ.get("NIXCUDA_OFFLINE") == "1"
    cache = Path(cache) if cache is not None else None

    if offline:
        reason = "offline mode"
    else:
        try:
            prices = download_ipsa(start, end)
        except ImportError:
            reason = "yfinance is not installed"
        except Exception as error:  # network, Yahoo, parsing: all mean "no download"
            reason = f"the download failed ({type(error).__name__}: {error})"
        else:
            if cache is not None:
                data.save_prices(prices, cache)
            return PriceData(prices, "yfinance", f"real {TICKER} data from Yahoo Finance, {_span(prices)}")

    if cache is not None and cache.exists():
        prices = data.load_prices_csv(cache)
        return PriceData(prices, "cache", f"{reason}: real {TICKER} data from the cache {cache}, {_span(prices)}")

    prices = data.synthetic_prices(seed=0)
    return PriceData(
        prices,
        "synthetic",
        f"{reason} and no cached download: SYNTHETIC prices, not the real {TICKER} ({_span(prices)})",
    )


def _span(prices: pd.DataFrame) -> str:
    return f"{len(prices)} days, {prices.index[0]:%Y-%m-%d} to {prices.index[-1]:%Y-%m-%d}"


def run(
    prices: pd.DataFrame,
    test_fraction: float = 0.2,
    epochs: int = 60,
    seed: int = 0,
) -> dict[str, Any]:
    """Features, chronological split, and every model; returns the results.

    ``results["metrics"]`` is a table (one row per model) of test-set
    metrics; ``results["predictions"]`` has the test targets and each
    model's predictions; ``results["skipped"]`` says why a model did not run.
    """
    X, y = features.split_xy(features.make_features(prices))
    X_train, X_test, y_train, y_test = features.time_split(X, y, test_fraction)

    predictions = pd.DataFrame({"actual": y_test}, index=y_test.index)
    predictions["zero"] = 0.0  # "tomorrow is like an average day"
    predictions["ridge"] = models.fit_baseline(X_train, y_train).predict(X_test)
    skipped: dict[str, str] = {}
    devices: dict[str, str] = {}

    try:
        regressor = models.train_torch_mlp(X_train, y_train, epochs=epochs, seed=seed)
    except ImportError as error:
        skipped["torch_mlp"] = f"torch is not importable ({error})"
    else:
        predictions["torch_mlp"] = regressor.predict(X_test)
        devices["torch_mlp"] = str(regressor.device)

    metrics = pd.DataFrame(
        {name: models.evaluate(y_test, predictions[name]) for name in predictions.columns if name != "actual"}
    ).T
    return {
        "metrics": metrics,
        "predictions": predictions,
        "skipped": skipped,
        "devices": devices,
        "n_train": len(X_train),
        "n_test": len(X_test),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="IPSA next-day return prediction")
    parser.add_argument("--offline", action="store_true", help="do not download; use the cache or synthetic data")
    parser.add_argument("--cache", default="data/ipsa.csv", help="CSV cache of the download (default: %(default)s)")
    parser.add_argument("--start", default=DEFAULT_START)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args(argv)

    loaded = load_ipsa(start=args.start, cache=args.cache, offline=args.offline or None)
    print(f"Data: {loaded.note}")
    results = run(loaded.prices, epochs=args.epochs)
    print(f"{results['n_train']} training days, {results['n_test']} test days")
    for name, device in results["devices"].items():
        print(f"{name} trained on {device}")
    for name, why in results["skipped"].items():
        print(f"{name} skipped: {why}")
    with pd.option_context("display.float_format", "{:.5f}".format):
        print(results["metrics"])


if __name__ == "__main__":
    main()
