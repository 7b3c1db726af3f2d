"""Is a GPU usable, and if not, why? Each check returns None when all is
well, or one sentence that says what is missing.

The checks go from the bottom up: the kernel driver, the driver library
libcuda (loaded with ctypes, no framework needed), then PyTorch.
The GPU tests (tests/test_gpu.py) skip with these sentences as the reason.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

DRIVER_VERSION_FILE = Path("/proc/driver/nvidia/version")
# Where NixOS puts the host's driver libraries. Nix-built CUDA programs find
# it through their RUNPATH; Python's ctypes has no such RUNPATH, so the
# libcuda check looks there itself.
DRIVER_LIBRARY_DIR = Path("/run/opengl-driver/lib")


def driver_problem() -> str | None:
    """The NVIDIA kernel module: it creates /proc/driver/nvidia/version."""
    if not DRIVER_VERSION_FILE.exists():
        return (
            f"no NVIDIA kernel driver ({DRIVER_VERSION_FILE} does not exist); on NixOS "
            "import the project's nix/host.nix into your system configuration (README.md, "
            "'Setup'), run `nixos-rebuild switch` and reboot"
        )
    return None


def driver_version() -> str | None:
    """The first line of /proc/driver/nvidia/version, or None."""
    try:
        return DRIVER_VERSION_FILE.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None


def load_libcuda() -> ctypes.CDLL:
    """The driver library: by name (LD_LIBRARY_PATH, ld.so.cache), else from NixOS' driver directory."""
    try:
        return ctypes.CDLL("libcuda.so.1")
    except OSError:
        on_nixos = DRIVER_LIBRARY_DIR / "libcuda.so.1"
        if not on_nixos.exists():
            raise
        return ctypes.CDLL(str(on_nixos))


def libcuda_problem() -> str | None:
    """The driver library libcuda.so.1: loadable, initialises, sees a device."""
    try:
        libcuda = load_libcuda()
    except OSError as error:
        return (
            f"libcuda.so.1 cannot be loaded ({error}); on NixOS it comes from the host's "
            f"NVIDIA driver in {DRIVER_LIBRARY_DIR}: import the project's nix/host.nix into "
            "your system configuration and run `nixos-rebuild switch`"
        )
    status = libcuda.cuInit(0)
    if status != 0:
        hint = " (999 is CUDA_ERROR_UNKNOWN: is the nvidia_uvm module loaded?)" if status == 999 else ""
        return f"cuInit failed with CUDA error {status}{hint}; check `nvidia-smi`"
    count = ctypes.c_int(0)
    status = libcuda.cuDeviceGetCount(ctypes.byref(count))
    if status != 0:
        return f"cuDeviceGetCount failed with CUDA error {status}"
    if count.value == 0:
        return "the NVIDIA driver reports no CUDA device"
    return None


def system_problem() -> str | None:
    """The first problem below the frameworks (driver, then libcuda), or None."""
    return driver_problem() or libcuda_problem()


def torch_problem() -> str | None:
    """PyTorch: installed, built with CUDA, and sees a GPU."""
    try:
        import torch
    except ImportError as error:
        return (
            f"torch cannot be imported in this Python ({sys.executable}): {error}; "
            "run it in the project's shell (direnv or `nix develop`), whose Python has torch"
        )
    if torch.version.cuda is None:
        return (
            f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None); "
            "the project's CUDA shell (`nix develop`, not `.#cpu`) has the CUDA build"
        )
    if not torch.cuda.is_available():
        below = system_problem()
        return "torch.cuda.is_available() is False" + (f": {below}" if below else "")
    return None


def kernels_cover(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Whether a build for ``arch_list`` (``torch.cuda.get_arch_list()``) runs on a GPU
    of compute ``capability``: a cubin ``sm_XY`` runs on the same major version at
    minor Y or higher, an arch-specific ``sm_XYa`` on exactly X.Y, and PTX
    ``compute_XY`` is compiled by the driver for X.Y and newer."""
    major, minor = capability
    for arch in arch_list:
        kind, _, version = arch.partition("_")
        digits = version.rstrip("abcdefghijklmnopqrstuvwxyz")
        if len(digits) < 2 or not digits.isdigit():
            continue
        built = (int(digits[:-1]), int(digits[-1]))
        if kind == "sm" and (built == capability or (digits == version and built[0] == major and built[1] <= minor)):
            return True
        if kind == "compute" and built <= (major, minor):
            return True
    return False


def torch_kernel_problem() -> str | None:
    """PyTorch has kernels for the GPU. Without them a matrix product still runs
    (cuBLAS brings its own), but training stops with "no kernel image is available"."""
    import torch

    capability = torch.cuda.get_device_capability(0)
    arch_list = torch.cuda.get_arch_list()
    if kernels_cover(capability, arch_list):
        return None
    wanted = "{}.{}".format(*capability)
    return (
        f"torch {torch.__version__} has no kernels for {torch.cuda.get_device_name(0)} (compute "
        f"capability {wanted}; torch.cuda.get_arch_list() is {', '.join(arch_list) or 'empty'}): "
        'training would stop with "no kernel image is available". nixpkgs\' default '
        "`cudaCapabilities` leave out GPUs below 7.5; set `cudaCapabilities = [ \"" + wanted + "\" ];` "
        "in flake.nix and shell.nix (torch then compiles locally, for hours: README.md, "
        "'Troubleshooting')"
    )


def report() -> str:
    """A few lines for humans (notebooks, bug reports): what works, what does not."""
    lines = [f"Python {sys.version.split()[0]} ({sys.executable})"]
    lines.append(f"NVIDIA driver: {driver_version() or driver_problem()}")
    lines.append(f"libcuda: {libcuda_problem() or 'OK'}")
    try:
        import torch

        name = torch.cuda.get_device_name(0) if torch_problem() is None else None
        lines.append(f"torch {torch.__version__} (CUDA {torch.version.cuda}): {name or torch_problem()}")
        if name is not None:
            lines.append(f"torch kernels: {torch_kernel_problem() or 'OK'}")
    except ImportError:
        lines.append(f"torch: {torch_problem()}")
    return "\n".join(lines)
