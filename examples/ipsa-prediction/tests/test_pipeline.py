"""The pipeline on the CPU, with synthetic data and no network.

numpy, pandas and scikit-learn are required. The torch tests run
where the framework can be imported and are skipped, with the reason, where not.
"""

import numpy as np
import pandas as pd
import pytest

from ipsa_prediction import data, features, ipsa, models


@pytest.fixture(scope="module")
def prices():
    # Stronger momentum than the default, so that "the model learned
    # something" is a safe assertion on 2000 days.
    return data.synthetic_prices(n_days=2000, seed=1, momentum=0.3)


@pytest.fixture(scope="module")
def xy_split(prices):
    X, y = features.split_xy(features.make_features(prices))
    return features.time_split(X, y, test_fraction=0.25)


def test_synthetic_prices_are_deterministic(prices):
    again = data.synthetic_prices(n_days=2000, seed=1, momentum=0.3)
    pd.testing.assert_frame_equal(prices, again)
    assert list(prices.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert (prices[["Open", "High", "Low", "Close"]] > 0).all().all()
    assert (prices["High"] >= prices[["Open", "Close"]].max(axis=1)).all()
    assert (prices["Low"] <= prices[["Open", "Close"]].min(axis=1)).all()
    assert prices.index.is_monotonic_increasing
    assert not data.synthetic_prices(n_days=2000, seed=2).equals(prices)


def test_prices_survive_the_csv_cache(prices, tmp_path):
    path = data.save_prices(prices, tmp_path / "cache" / "prices.csv")
    loaded = data.load_prices_csv(path)
    pd.testing.assert_frame_equal(loaded, prices, check_freq=False)


def test_moving_average_matches_pandas():
    values = np.random.default_rng(0).normal(100, 5, 500)
    for window in (1, 5, 20, 500):
        expected = pd.Series(values).rolling(window).mean().dropna().to_numpy()
        np.testing.assert_allclose(features.moving_average(values, window), expected, rtol=1e-10)
    for bad in (0, 501):
        with pytest.raises(ValueError):
            features.moving_average(values, bad)


def test_features_have_no_gaps_and_the_expected_columns(prices):
    table = features.make_features(prices, lags=(1, 2), windows=(5, 20))
    assert not table.isna().any().any()
    assert set(table.columns) == {
        "return_lag_1",
        "return_lag_2",
        "ma_ratio_5",
        "volatility_5",
        "ma_ratio_20",
        "volatility_20",
        features.TARGET,
    }
    # 20 days of warm-up for the longest window, and the last day has no target.
    assert len(table) == len(prices) - 20 - 1


def test_target_is_tomorrows_return_and_features_never_look_ahead(prices):
    table = features.make_features(prices)
    log_close = np.log(prices["Close"])
    day = table.index[100]
    tomorrow = prices.index[prices.index.get_loc(day) + 1]
    assert table.loc[day, features.TARGET] == pytest.approx(log_close[tomorrow] - log_close[day])
    assert table.loc[day, "return_lag_1"] == pytest.approx(log_close[day] - log_close.shift(1)[day])
    # Changing the future must not change today's features.
    changed = prices.copy()
    changed.loc[changed.index > tomorrow, "Close"] *= 3.0
    X_before = features.split_xy(table)[0]
    X_after = features.split_xy(features.make_features(changed))[0]
    pd.testing.assert_frame_equal(X_before.loc[:day], X_after.loc[:day])


def test_time_split_keeps_the_order(xy_split):
    X_train, X_test, y_train, y_test = xy_split
    assert X_train.index.max() < X_test.index.min()
    assert len(X_train) == len(y_train) and len(X_test) == len(y_test)
    assert len(X_test) / (len(X_train) + len(X_test)) == pytest.approx(0.25, abs=0.01)


def test_metrics():
    perfect = models.evaluate([0.01, -0.02, 0.03], [0.01, -0.02, 0.03])
    assert perfect["mae"] == 0 and perfect["rmse"] == 0
    assert perfect["r2"] == 1 and perfect["sign_accuracy"] == 1
    assert models.evaluate([1.0, -1.0], [-1.0, 1.0])["sign_accuracy"] == 0
    # "Predict 0" calls no direction: no sign accuracy, rather than 0.
    assert np.isnan(models.evaluate([0.01, -0.02], [0.0, 0.0])["sign_accuracy"])


def test_baseline_learns_the_momentum(xy_split):
    X_train, X_test, y_train, y_test = xy_split
    baseline = models.fit_baseline(X_train, y_train)
    metrics = models.evaluate(y_test, baseline.predict(X_test))
    zero = models.evaluate(y_test, np.zeros(len(y_test)))
    assert metrics["rmse"] < zero["rmse"]
    assert metrics["sign_accuracy"] > 0.55


def test_baseline_on_the_synthetic_regression():
    X, y = data.synthetic_regression(n_samples=1000, seed=0)
    baseline = models.fit_baseline(X[:800], y[:800])
    assert models.evaluate(y[800:], baseline.predict(X[800:]))["r2"] > 0.8


def test_torch_network_learns_on_the_cpu():
    pytest.importorskip("torch", reason="torch is not installed in this Python environment")
    X, y = data.synthetic_regression(n_samples=1000, seed=0)
    regressor = models.train_torch_mlp(X[:800], y[:800], epochs=30, device="cpu", seed=0)
    assert regressor.history[-1] < regressor.history[0] / 2
    predictions = regressor.predict(X[800:])
    assert predictions.shape == (200,) and np.isfinite(predictions).all()
    assert models.evaluate(y[800:], predictions)["r2"] > 0.8
    # The same seed gives the same network on the CPU.
    again = models.train_torch_mlp(X[:800], y[:800], epochs=30, device="cpu", seed=0)
    np.testing.assert_allclose(again.predict(X[800:]), predictions, rtol=1e-5, atol=1e-6)


def test_ipsa_offline_falls_back_to_synthetic_data_and_says_so():
    loaded = ipsa.load_ipsa(offline=True)
    assert loaded.is_synthetic
    assert "SYNTHETIC" in loaded.note and "offline" in loaded.note
    assert len(loaded.prices) > 500


def test_ipsa_without_yfinance_says_so(monkeypatch):
    # None in sys.modules makes `import yfinance` raise ImportError.
    monkeypatch.setitem(__import__("sys").modules, "yfinance", None)
    loaded = ipsa.load_ipsa(offline=False)
    assert loaded.is_synthetic
    assert "yfinance is not installed" in loaded.note


def test_ipsa_uses_the_cache_when_offline(prices, tmp_path):
    cache = data.save_prices(prices, tmp_path / "ipsa.csv")
    loaded = ipsa.load_ipsa(offline=True, cache=cache)
    assert loaded.source == "cache" and not loaded.is_synthetic
    assert len(loaded.prices) == len(prices)


def test_ipsa_pipeline_end_to_end(prices):
    results = ipsa.run(prices, epochs=3)
    metrics = results["metrics"]
    assert {"zero", "ridge"} <= set(metrics.index)
    assert set(metrics.columns) == {"mae", "rmse", "r2", "sign_accuracy"}
    assert "torch_mlp" in metrics.index or "torch_mlp" in results["skipped"]
    assert len(results["predictions"]) == results["n_test"]
