# For `nix-shell` users who do not use flakes: the same environment as the
# flake's dev shell (flake.nix; keep the two in step when you edit one).
#
#   nix-shell                  # CUDA shell, like `nix develop`
#   nix-shell --arg gpu false  # CPU-only shell, like `nix develop .#cpu`
#
# It uses the nixpkgs revision pinned in flake.lock when there is one (the
# revision the flake uses), otherwise your channel's <nixpkgs>.
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
      <nixpkgs>,
  # With `cudaSupport = true` the plain package attributes are the CUDA
  # builds that the CUDA binary caches hold. Do not set `cudaCapabilities`:
  # a non-default value misses the caches and compiles everything locally.
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
  python = pkgs.python3.withPackages (
    ps: with ps; [
      pandas
      numpy
      matplotlib
      seaborn
      scikit-learn
      openpyxl
      xlrd
      jupyterlab
      ipykernel
      yfinance
      pytz
      pytest
      torch
    ]
  );

  # The Rust crate's CUDA set; cudarc's `cuda-12090` feature in
  # rust/Cargo.toml matches it.
  cudaPackages = pkgs.cudaPackages;
  cudarcFeature = "cuda-12090";
  cudaLibs = with cudaPackages; [
    cuda_cudart
    cuda_nvrtc
    libcublas
  ];

  # The driver's libcuda.so.1 (from the host, never a stub library).
  driverLib = "${pkgs.addDriverRunpath.driverLink}/lib";
in
pkgs.mkShell {
  packages = [
    python
  ]
  ++ (with pkgs; [
    rustc
    cargo
    clippy
    rustfmt
    rust-analyzer
  ])
  ++ lib.optionals gpu [ cudaPackages.cuda_nvcc ];

  env = {
    CUDARC_CUDA_VERSION = lib.removePrefix "cuda-" cudarcFeature;
  }
  // lib.optionalAttrs gpu {
    # The driver directory comes FIRST, so the real libcuda.so.1 wins.
    LD_LIBRARY_PATH = "${driverLib}:${lib.makeLibraryPath cudaLibs}";
    TRITON_LIBCUDA_PATH = driverLib;
    TRITON_PTXAS_PATH = "${pkgs.cudaPackages.cuda_nvcc}/bin/ptxas";
  };

  shellHook = ''
    export PYTHONPATH="$PWD/src''${PYTHONPATH:+:$PYTHONPATH}"
    ${lib.optionalString gpu ''
      if [ ! -e ${driverLib}/libcuda.so.1 ]; then
        echo "warning: no NVIDIA driver in ${driverLib}: CUDA will not find a GPU (README.md, Troubleshooting)" >&2
      fi
    ''}
  '';
}
