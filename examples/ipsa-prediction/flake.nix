{
  description = "ipsa-prediction: GPU machine-learning project on NixOS";

  # A convenience only. Nix uses these caches for a trusted user who accepts
  # them (it asks once, or `--accept-flake-config`); for everyone else, and
  # always under direnv, it ignores them with a warning. The reliable place is
  # the host configuration: nix/host.nix (see README.md, "Binary caches").
  nixConfig = {
    extra-substituters = [
      "https://cache.nixos-cuda.org"
      "https://cache.flox.dev"
    ];
    extra-trusted-public-keys = [
      "cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M="
      "flox-cache-public-1:7F4OyH7ZCnFhcze3fJdfyXYLQw/aV7GEed86nQ7IsOs="
    ];
  };

  # nixos-unstable is what the CUDA caches build. `nix flake update` moves
  # the pin; flake.lock records it.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      # CUDA and the NVIDIA driver are Linux-only.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems f;

      nixpkgsFor = forAllSystems (system: {
        # The GPU package set. With `cudaSupport = true`, the plain package
        # attributes (`torch`) ARE the CUDA builds,
        # and exactly the ones the CUDA binary caches hold; per-package CUDA
        # overrides would only miss the cache. Do not set `cudaCapabilities`
        # or `cudaForwardCompat` here either: any non-default value changes
        # every CUDA package's hash, and everything is compiled locally.
        cuda = import nixpkgs {
          inherit system;
          config = {
            allowUnfree = true;
            cudaSupport = true;
          };
        };
        # The same tools without CUDA: laptops, CI and `nix flake check`.
        cpu = import nixpkgs {
          inherit system;
          config = {
            allowUnfree = true;
            cudaSupport = false;
          };
        };
      });

      # The Python environment: the packages come from Nix, not pip (see
      # README.md, "pip install"). `python3` is Python 3.14.
      # nixpkgs' default interpreter is the only one the CUDA caches build.
      pythonFor =
        pkgs:
        pkgs.python3.withPackages (
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

      # The CUDA set of the Rust crate: rust/Cargo.toml selects cudarc's
      # `cuda-12090` feature, which must match it. The Python
      # frameworks use nixpkgs' default set, the one the caches build.
      cudaPackagesFor =
        pkgs:
        let
          set = pkgs.cudaPackages;
        in
        if set.cudaMajorMinorVersion == "12.9" then
          set
        else
          pkgs.lib.warn "cudaPackages is now CUDA ${set.cudaMajorMinorVersion}, but rust/Cargo.toml and CUDARC_CUDA_VERSION in flake.nix select 12.9 (cudarc feature cuda-12090): update both" set;

      # The development shell. `gpu` adds the driver and CUDA library paths.
      shellFor =
        pkgs: gpu:
        let
          inherit (pkgs) lib;
          python = pythonFor pkgs;
          cudaPackages = cudaPackagesFor pkgs;
          # The cudarc feature that rust/Cargo.toml selects.
          cudarcFeature = "cuda-12090";
          # Libraries cudarc loads at run time (dlopen by soname).
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
            # Runs the recipes in the justfile (`just --list`).
            pkgs.just
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
            # cudarc's CUDA version ("12090" for 12.9). It must match the
            # cudarc feature in rust/Cargo.toml, or the crate fails to build.
            CUDARC_CUDA_VERSION = lib.removePrefix "cuda-" cudarcFeature;
          }
          // lib.optionalAttrs gpu {
            # The driver directory comes FIRST, so the real libcuda.so.1 wins.
            LD_LIBRARY_PATH = "${driverLib}:${lib.makeLibraryPath cudaLibs}";
            # torch.compile (Triton) looks for libcuda with ldconfig, which
            # NixOS does not have.
            TRITON_LIBCUDA_PATH = driverLib;
            TRITON_PTXAS_PATH = "${pkgs.cudaPackages.cuda_nvcc}/bin/ptxas";
          };

          shellHook = ''
            # Make the project's Python package importable (src/ layout).
            export PYTHONPATH="$PWD/src''${PYTHONPATH:+:$PYTHONPATH}"
            ${
              if gpu then
                ''
                  if [ ! -e ${driverLib}/libcuda.so.1 ]; then
                    echo "warning: no NVIDIA driver in ${driverLib}: CUDA will not find a GPU (README.md, Troubleshooting)" >&2
                  fi
                ''
              else
                ''
                  echo "CPU-only shell: GPU tests are skipped." >&2
                ''
            }
          '';
        };

      # The Rust crate in rust/, built and tested (`cargo test`).
      cargoToml = builtins.fromTOML (builtins.readFile ./rust/Cargo.toml);
      crateFor =
        pkgs:
        let
          cudaPackages = cudaPackagesFor pkgs;
        in
        pkgs.rustPlatform.buildRustPackage {
          pname = cargoToml.package.name;
          version = cargoToml.package.version;
          src = ./rust;
          cargoLock.lockFile = ./rust/Cargo.lock;
          # The driver's libcuda.so.1 is found through /run/opengl-driver/lib.
          nativeBuildInputs = [ pkgs.autoAddDriverRunpath ];
          # cudarc opens NVRTC by name at run time: put it on the RUNPATH.
          postFixup = pkgs.lib.optionalString pkgs.config.cudaSupport ''
            patchelf --add-rpath ${pkgs.lib.makeLibraryPath [ cudaPackages.cuda_nvrtc ]} $out/bin/*
          '';
        };
    in
    {
      devShells = forAllSystems (system: {
        # `nix develop` / direnv: the CUDA shell.
        default = shellFor nixpkgsFor.${system}.cuda true;
        # `nix develop .#cpu`: no CUDA at all.
        cpu = shellFor nixpkgsFor.${system}.cpu false;
      });

      # `nix flake check`: the CPU tests, in the Nix sandbox (no GPU, no
      # network). GPU tests skip there; run them in the shell on a GPU machine.
      checks = forAllSystems (
        system:
        let
          pkgs = nixpkgsFor.${system}.cpu;
          crate = crateFor pkgs;
          # pytest over a copy of the sources.
          pytestFor =
            pkgs: python: name:
            pkgs.runCommand "ipsa-prediction-${name}" { nativeBuildInputs = [ python ]; } ''
              cp -r ${./.} source
              chmod -R u+w source
              cd source
              export HOME=$TMPDIR PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$PWD/src
              python -m pytest -q -rs -p no:cacheprovider tests
              touch $out
            '';
        in
        {
          pytest = pytestFor pkgs (pythonFor pkgs) "pytest";
          rust = crate;
        }
      );

      # `nix run`: the crate's demo program, built against the CUDA set.
      packages = forAllSystems (system: {
        default = crateFor nixpkgsFor.${system}.cuda;
      });

      # `nix fmt`: formats every .nix file (official nixfmt style).
      formatter = forAllSystems (system: nixpkgs.legacyPackages.${system}.nixfmt-tree);

      # The host configuration for the NVIDIA driver and the CUDA caches.
      nixosModules.nvidia = import ./nix/host.nix;
      nixosModules.default = self.nixosModules.nvidia;
    };
}
