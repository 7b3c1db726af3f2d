# For `nix-shell` users who do not use flakes: the same environment as the
# flake's dev shell (flake.nix; keep the two in step when you edit one;
# both read the Python packages from pyproject.toml).
#
#   nix-shell                  # CUDA shell, like `nix develop`
#   nix-shell --arg gpu false  # CPU-only shell, like `nix develop .#cpu`
#
# It uses the nixpkgs revision locked in flake.lock when there is one (the
# revision the flake uses; commit flake.lock), otherwise the newest revision
# of the flake's branch (nixos-unstable-cuda).
{
  gpu ? true,
  nixpkgs ?
    let
      lock = builtins.fromJSON (builtins.readFile ./flake.lock);
      locked = lock.nodes.${lock.nodes.${lock.root}.inputs.nixpkgs}.locked;
    in
    if builtins.pathExists ./flake.lock then
      builtins.fetchTarball {
        url = "https://github.com/${locked.owner}/${locked.repo}/archive/${locked.rev}.tar.gz";
        sha256 = locked.narHash;
      }
    else
      builtins.fetchTarball "https://github.com/nixos-cuda/nixpkgs/archive/nixos-unstable-cuda.tar.gz",
  # With `cudaSupport = true` the plain package attributes are the CUDA
  # builds that the CUDA binary caches hold.
  pkgs ? import nixpkgs {
    config = {
      allowUnfree = true;
      cudaSupport = gpu;
    };
  },
}:
let
  inherit (pkgs) lib;

  # `python3` is Python 3.14; see flake.nix for why.
  # The Python packages: pyproject.toml is the one list, as in flake.nix.
  pythonPackages = import ./nix/python-packages.nix (
    builtins.fromTOML (builtins.readFile ./pyproject.toml)
  );
  python = pkgs.python3.withPackages (pythonPackages.packagesFor [ ]);

  # The Rust crate's CUDA set; rust/Cargo.toml's cudarc feature chooses the
  # version (see flake.nix), and Nix warns when `cudaPackages` no longer matches.
  cargoToml = builtins.fromTOML (builtins.readFile ./rust/Cargo.toml);
  cudarcFeature = builtins.head (
    builtins.filter (lib.hasPrefix "cuda-") cargoToml.dependencies.cudarc.features
  );
  cudaPackages =
    let
      set = pkgs.cudaPackages;
      version = set.cudaMajorMinorVersion;
      feature = "cuda-${lib.versions.major version}0${lib.versions.minor version}0";
    in
    if feature == cudarcFeature then
      set
    else
      lib.warn "cudaPackages is CUDA ${version} now, but rust/Cargo.toml selects cudarc's ${cudarcFeature}: change that feature to ${feature}, or choose another CUDA set in shell.nix" set;
  cudaLibs = with cudaPackages; [
    cuda_cudart
    cuda_nvrtc
    libcublas
  ];
  cargoTargetOf = {
    x86_64-linux = "X86_64_UNKNOWN_LINUX_GNU";
    aarch64-linux = "AARCH64_UNKNOWN_LINUX_GNU";
  };

  # The driver's libcuda.so.1 (from the host, never a stub library).
  driverLib = "${pkgs.addDriverRunpath.driverLink}/lib";
in
pkgs.mkShell {
  packages = [
    python
    pkgs.just
    pkgs.uv
  ]
  ++ (with pkgs; [
    rustc
    cargo
    clippy
    rustfmt
    rust-analyzer
  ])
  ++ lib.optionals gpu [ cudaPackages.cuda_nvcc ];

  # No LD_LIBRARY_PATH, as in flake.nix: it would override every program's
  # RUNPATH.
  env = lib.optionalAttrs gpu {
    # The crate's binaries find the driver and this CUDA set through their
    # RUNPATH (see flake.nix).
    "CARGO_TARGET_${cargoTargetOf.${pkgs.stdenv.hostPlatform.system}}_RUSTFLAGS" =
      "-C link-arg=-Wl,-rpath,${driverLib}:${lib.makeLibraryPath cudaLibs}";
    TRITON_LIBCUDA_PATH = driverLib;
    TRITON_PTXAS_PATH = "${pkgs.cudaPackages.cuda_nvcc}/bin/ptxas";
  };

  shellHook = ''
    export PYTHONPATH="$PWD/src''${PYTHONPATH:+:$PYTHONPATH}"
    # PyPI packages over this environment, as in flake.nix.
    export NIXCUDA_PYTHON=${python}/bin/python
    if [ -f pylock.pypi.toml ] && bash nix/pypi-venv.sh "$NIXCUDA_PYTHON" uv; then
      export PATH="$PWD/.venv/bin:$PATH"
    fi
    ${lib.optionalString gpu ''
      if [ ! -e ${driverLib}/libcuda.so.1 ]; then
        echo "warning: no NVIDIA driver in ${driverLib}: CUDA will not find a GPU (README.md, Troubleshooting)" >&2
      fi
    ''}
    # .nixcuda/python for editors and Jupyter (nix/editor-python.sh).
    if [ -f shell.nix ]; then
      bash nix/editor-python.sh ${python} shell.nix
    fi
  '';
}
