"""ipsa-prediction: the project's Python package.

Modules: ``data`` (synthetic data, CSV cache), ``features`` (returns, lags,
moving averages), ``models`` (scikit-learn baseline, PyTorch, metrics),
``gpu`` (why a GPU is or is not usable), ``ipsa`` (the IPSA prediction
example). They are not imported here,
so ``import ipsa_prediction`` stays fast.
"""

DESCRIPTION = "ipsa-prediction: GPU machine-learning project on NixOS"
__version__ = "0.1.0"
