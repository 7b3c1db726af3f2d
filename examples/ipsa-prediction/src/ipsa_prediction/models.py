"""Models: a scikit-learn baseline, a PyTorch network, and metrics.

The deep-learning frameworks are imported inside the functions that need
them, so this module (and the baseline) works where they are not installed.
PyTorch uses the GPU when one is visible (``cuda``) and the CPU otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


def make_baseline() -> Pipeline:
    """The baseline: standardised features and a ridge regression.

    The regularisation strength is chosen by cross-validation on the
    training set. Any network has to beat this to be worth its cost.
    """
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))


def fit_baseline(X_train: Any, y_train: Any) -> Pipeline:
    """Fits :func:`make_baseline` and returns it (``.predict(X)`` gives predictions).

    Predict with the same kind of table you fitted with (a DataFrame with the
    same columns, or an array).
    """
    return make_baseline().fit(X_train, y_train)


def evaluate(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Regression metrics, plus how often the predicted sign is right.

    ``sign_accuracy`` is what matters for returns: did the model say "up" on
    the days the index went up? 0.5 is a coin toss; NaN when the model never
    calls a direction.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.shape} targets but {y_pred.shape} predictions")
    error = y_pred - y_true
    total = np.sum((y_true - y_true.mean()) ** 2)
    # Days on which the model called a direction (a prediction of exactly 0,
    # like the "predict 0" benchmark, calls none) and the market moved.
    called = (y_pred != 0) & (y_true != 0)
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "r2": float(1.0 - np.sum(error**2) / total) if total > 0 else float("nan"),
        "sign_accuracy": float(np.mean(np.sign(y_pred[called]) == np.sign(y_true[called])))
        if called.any()
        else float("nan"),
    }


@dataclass
class Standardizer:
    """Mean/std scaling fitted on the training set (networks train badly on
    raw returns, which are around 0.01)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean


def torch_device(prefer_gpu: bool = True) -> Any:
    """``cuda`` when PyTorch sees a GPU (and ``prefer_gpu``), else ``cpu``."""
    import torch

    if prefer_gpu and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@dataclass
class TorchRegressor:
    """A trained PyTorch network with its scaling; ``predict`` takes raw features."""

    model: Any
    x_scale: Standardizer
    y_scale: Standardizer
    device: Any
    history: list[float] = field(default_factory=list)

    def predict(self, X: Any) -> np.ndarray:
        import torch

        inputs = torch.from_numpy(self.x_scale.transform(np.asarray(X, dtype=np.float64)))
        self.model.eval()
        with torch.no_grad():
            out = self.model(inputs.to(self.device)).squeeze(-1).cpu().numpy()
        return self.y_scale.inverse(out.astype(np.float64))


def build_torch_mlp(n_inputs: int, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.1) -> Any:
    """The network: fully connected layers with ReLU and dropout, one output.

    :func:`train_torch_mlp` and the training entrypoint (``train.py``, one
    process or many) build the network with it.
    """
    from torch import nn

    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def train_torch_mlp(
    X_train: Any,
    y_train: Any,
    *,
    hidden: tuple[int, ...] = (64, 32),
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    dropout: float = 0.1,
    seed: int = 0,
    device: Any = None,
) -> TorchRegressor:
    """Trains a small fully connected network (MSE loss, Adam) on the features.

    ``device``: ``None`` picks the GPU when present (:func:`torch_device`).
    ``history`` holds the mean training loss of each epoch (on standardised
    targets, so 1.0 is "no better than the mean").
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    device = torch.device(device) if device is not None else torch_device()
    X = np.asarray(X_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64).reshape(-1, 1)
    x_scale, y_scale = Standardizer.fit(X), Standardizer.fit(y)
    inputs = torch.from_numpy(x_scale.transform(X)).to(device)
    targets = torch.from_numpy(y_scale.transform(y)).to(device)

    model = build_torch_mlp(X.shape[1], hidden, dropout).to(device)

    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.MSELoss()
    # A seeded generator on the CPU: the same shuffling on CPU and GPU.
    generator = torch.Generator().manual_seed(seed)
    history: list[float] = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(inputs), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(inputs[batch]), targets[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history.append(total / len(inputs))
    return TorchRegressor(model, x_scale, y_scale, device, history)
