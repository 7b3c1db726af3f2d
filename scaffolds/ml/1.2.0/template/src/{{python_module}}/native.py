"""Rolling statistics from the Rust extension ``_native`` (rust/src/lib.rs).

Build the extension with ``maturin develop --release`` (see README.md). Until
it is built, the same functions run in numpy, a bit slower; ``BACKEND`` says
which one you got, and :func:`require_native` turns a missing extension into
an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:
    from . import _native
except ImportError as error:  # not built yet, or built for another Python
    _native = None
    NATIVE_IMPORT_ERROR: str | None = str(error)
else:
    NATIVE_IMPORT_ERROR = None

#: "rust" when the compiled extension is loaded, "numpy" for the fallback.
BACKEND = "rust" if _native is not None else "numpy"


def require_native() -> None:
    """Raises ImportError, with the fix, when the Rust extension is not loaded."""
    if _native is None:
        raise ImportError(
            f"the Rust extension {__package__}._native is not built ({NATIVE_IMPORT_ERROR}); "
            "run `maturin develop --release` in the project's shell (README.md, "
            "'The Rust extension')"
        )


def _as_list(values: Sequence[float] | np.ndarray) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError("values must be one-dimensional")
    return array.tolist()


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average, ``len(values) - window + 1`` values."""
    if _native is not None:
        return np.asarray(_native.moving_average(_as_list(values), window))
    from .features import moving_average as numpy_moving_average

    return numpy_moving_average(values, window)


def rolling_zscore(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Rolling z-score of each window's last value (sample std; 0 for flat windows)."""
    if _native is not None:
        return np.asarray(_native.rolling_zscore(_as_list(values), window))
    array = np.asarray(_as_list(values))
    if not 2 <= window <= len(array):
        raise ValueError(f"window must be between 2 and the series length ({len(array)}), got {window}")
    windows = np.lib.stride_tricks.sliding_window_view(array, window)
    std = windows.std(axis=1, ddof=1)
    z = (windows[:, -1] - windows.mean(axis=1)) / np.where(std > 0, std, 1.0)
    return np.where(std > 0, z, 0.0)
