"""GPU tests (marker ``gpu``; ``pytest -m gpu`` runs only these).

Without a usable GPU each test is skipped with the reason: what exactly is
missing. With NIXCUDA_REQUIRE_GPU=1 they fail instead, so that on a GPU
machine a broken driver setup cannot hide behind a skip.
"""

import os

import numpy as np
import pytest

from ipsa_prediction import gpu


def gpu_required() -> bool:
    return os.environ.get("NIXCUDA_REQUIRE_GPU") == "1"


def skip_or_fail(problem: str | None) -> None:
    """Returns when ``problem`` is None; otherwise skips, or fails when a GPU is required."""
    __tracebackhide__ = True  # report the calling test's line, not this one
    if problem is None:
        return
    if gpu_required():
        pytest.fail(f"NIXCUDA_REQUIRE_GPU=1, but {problem}", pytrace=False)
    pytest.skip(problem)


def test_require_gpu_turns_a_skip_into_a_failure(monkeypatch):
    """A CPU test of the mechanism itself."""
    monkeypatch.setenv("NIXCUDA_REQUIRE_GPU", "1")
    with pytest.raises(pytest.fail.Exception, match="NIXCUDA_REQUIRE_GPU=1, but no GPU here"):
        skip_or_fail("no GPU here")
    monkeypatch.delenv("NIXCUDA_REQUIRE_GPU")
    with pytest.raises(pytest.skip.Exception, match="no GPU here"):
        skip_or_fail("no GPU here")
    skip_or_fail(None)  # no problem: returns


def test_without_a_driver_the_problems_name_the_fix(monkeypatch, tmp_path):
    """A CPU test: the sentences say what to do, and libcuda is looked for
    where NixOS puts it too (the project's shell sets no LD_LIBRARY_PATH)."""
    monkeypatch.setattr(gpu, "DRIVER_VERSION_FILE", tmp_path / "version")
    assert "nix/host.nix" in gpu.driver_problem()

    def cdll(name):
        if name != str(tmp_path / "libcuda.so.1"):
            raise OSError(f"{name}: cannot open shared object file")
        return "the driver library"

    monkeypatch.setattr(gpu, "DRIVER_LIBRARY_DIR", tmp_path)
    monkeypatch.setattr(gpu.ctypes, "CDLL", cdll)
    assert "nix/host.nix" in gpu.libcuda_problem()
    (tmp_path / "libcuda.so.1").touch()
    assert gpu.load_libcuda() == "the driver library"


@pytest.mark.gpu
def test_nvidia_driver_is_loaded():
    skip_or_fail(gpu.driver_problem())
    assert "NVIDIA" in (gpu.driver_version() or "")


@pytest.mark.gpu
def test_libcuda_sees_a_device():
    # libcuda through ctypes: independent of any framework.
    skip_or_fail(gpu.system_problem())


def test_torch_kernels_must_match_the_gpu_capability():
    """A CPU test of the check behind test_torch_has_kernels_for_this_gpu."""
    cached = ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120", "compute_120"]
    assert gpu.kernels_cover((8, 6), cached)
    assert gpu.kernels_cover((8, 7), ["sm_80"])  # same major version, newer minor
    assert gpu.kernels_cover((12, 1), cached)
    # A GTX 1080 (6.1) or a V100 (7.0): nixpkgs' defaults build no kernels for them.
    assert not gpu.kernels_cover((6, 1), cached)
    assert not gpu.kernels_cover((7, 0), cached)
    assert not gpu.kernels_cover((8, 0), ["sm_86"])  # a cubin never runs on an older minor
    assert not gpu.kernels_cover((9, 0), ["sm_100a"])
    assert gpu.kernels_cover((9, 0), ["sm_90a"])  # arch-specific: exactly 9.0
    assert not gpu.kernels_cover((9, 1), ["sm_90a"])
    assert gpu.kernels_cover((9, 0), ["compute_80"])  # PTX is compiled for newer GPUs


@pytest.mark.gpu
def test_torch_has_kernels_for_this_gpu():
    # cuBLAS brings its own kernels, so a matrix product can pass on a GPU
    # torch was not built for, while training dies with "no kernel image".
    skip_or_fail(gpu.torch_problem())
    problem = gpu.torch_kernel_problem()
    assert problem is None, problem


@pytest.mark.gpu
def test_torch_computes_on_the_gpu():
    skip_or_fail(gpu.torch_problem())
    import torch

    rng = np.random.default_rng(0)
    a = rng.normal(size=(256, 128)).astype(np.float32)
    b = rng.normal(size=(128, 64)).astype(np.float32)
    on_gpu = (torch.from_numpy(a).cuda() @ torch.from_numpy(b).cuda()).cpu().numpy()
    # TF32 may be on for matmuls on recent GPUs: compare loosely.
    np.testing.assert_allclose(on_gpu, a @ b, rtol=1e-2, atol=1e-2)


@pytest.mark.gpu
def test_torch_model_trains_on_the_gpu():
    skip_or_fail(gpu.torch_problem())
    assert gpu.torch_kernel_problem() is None, gpu.torch_kernel_problem()
    from ipsa_prediction.data import synthetic_regression
    from ipsa_prediction.models import train_torch_mlp

    X, y = synthetic_regression(n_samples=512, seed=1)
    regressor = train_torch_mlp(X, y, epochs=5)
    assert regressor.device.type == "cuda"
    assert next(regressor.model.parameters()).is_cuda
    assert np.isfinite(regressor.predict(X)).all()
