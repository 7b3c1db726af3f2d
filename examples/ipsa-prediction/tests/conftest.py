"""pytest setup shared by all tests."""

import importlib.util
import sys
from pathlib import Path

# The project's shell puts src/ on PYTHONPATH. Elsewhere (an IDE, plain
# `pytest` outside the shell) use src/ directly, unless the package is
# installed (a wheel built by maturin or pip), which then wins.
SRC = Path(__file__).resolve().parent.parent / "src"
if importlib.util.find_spec("ipsa_prediction") is None:
    sys.path.insert(0, str(SRC))


def pytest_configure(config):
    # Also declared in pyproject.toml; repeated so the marker is known even
    # when pytest runs with another configuration file.
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU")

