{
  description = "ipsa-prediction: GPU machine-learning project on NixOS";

  # A convenience only. Nix uses these caches for a trusted user who accepts
  # them (it asks once, or `--accept-flake-config`); for everyone else, and
  # always under direnv, it ignores them with a warning. The reliable place is
  # the host configuration: nix/host.nix (see README.md, "Binary caches").
  #   - cache.nixos-cuda.org: the NixOS CUDA team's Hydra cache, for their
  #     development ("internal development purposes only").
  #   - cache.flox.dev: Flox's cache, the licensed redistribution of NVIDIA's
  #     CUDA binaries.
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

  # nixos-unstable-cuda: the nixos-unstable-small revision whose CUDA packages
  # the CUDA Hydra has built, so they come from its cache. `nix flake update` moves the pin; commit flake.lock.
  inputs.nixpkgs.url = "github:nixos-cuda/nixpkgs/nixos-unstable-cuda";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      # CUDA and the NVIDIA driver are Linux-only. The CUDA Hydra builds
      # x86_64-linux only: on aarch64-linux CUDA packages compile locally.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems f;

      nixpkgsFor = forAllSystems (system: {
        # The GPU package set. With `cudaSupport = true`, the plain package
        # attributes (`torch`) ARE the CUDA builds,
        # and exactly the ones the CUDA binary caches hold; per-package CUDA
        # overrides would only miss the cache.
        cuda = import nixpkgs {
          inherit system;
          config = {
            allowUnfree = true;
            cudaSupport = true;
            # No `cudaCapabilities` or `cudaForwardCompat`: a non-default
            # value changes every CUDA package's hash, and everything is
            # compiled locally (README.md, "Why this Python, and why these
            # packages").
          };
        };
        # Without CUDA: laptops, CI and `nix flake check`. nixpkgs' own
        # evaluation, so no second import of nixpkgs.
        cpu = nixpkgs.legacyPackages.${system};
      });

      # The Python environment: the packages come from Nix, not pip (see
      # README.md, "pip install"). `python3` is Python 3.14.
      # nixpkgs' default interpreter; the CUDA caches build its packages.
      # The Python packages: pyproject.toml is the one list (`cargo nixcuda
      # add NAME`), nix/python-packages.nix maps it to nixpkgs attributes.
      pythonPackages = import ./nix/python-packages.nix (
        builtins.fromTOML (builtins.readFile ./pyproject.toml)
      );
      pythonFor = pkgs: pkgs.python3.withPackages (pythonPackages.packagesFor [ ]);

      # The CUDA set of the Rust crate. rust/Cargo.toml's cudarc feature
      # (`cuda-12090`: CUDA 12.9) is the one place that
      # chooses the version; Nix warns when `cudaPackages` no longer matches it
      # (after `nix flake update`, or an edit on one side only). The Python
      # frameworks use nixpkgs' default set, the one the caches build.
      cudarcFeature = builtins.head (
        builtins.filter (lib.hasPrefix "cuda-") cargoToml.dependencies.cudarc.features
      );
      cudaPackagesFor =
        pkgs:
        let
          set = pkgs.cudaPackages;
          version = set.cudaMajorMinorVersion;
          feature = "cuda-${lib.versions.major version}0${lib.versions.minor version}0";
        in
        if feature == cudarcFeature then
          set
        else
          lib.warn "cudaPackages is CUDA ${version} now, but rust/Cargo.toml selects cudarc's ${cudarcFeature}: change that feature to ${feature}, or choose another CUDA set in flake.nix" set;

      # Cargo reads `target.<triple>.rustflags` from CARGO_TARGET_<TRIPLE>_RUSTFLAGS,
      # the Rust target spelled as Cargo spells it in variable names.
      cargoTargetOf = {
        x86_64-linux = "X86_64_UNKNOWN_LINUX_GNU";
        aarch64-linux = "AARCH64_UNKNOWN_LINUX_GNU";
      };

      # The development shell; `gpu` selects the CUDA one.
      shellFor =
        pkgs: gpu:
        let
          python = pythonFor pkgs;
          cudaPackages = cudaPackagesFor pkgs;
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
            # Installs the PyPI packages of `cargo nixcuda add --pypi`.
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

          # No LD_LIBRARY_PATH: it would override every program's RUNPATH.
          # Nix-built CUDA programs find the driver through their RUNPATH
          # already, and the crate's binaries get theirs below.
          env = lib.optionalAttrs gpu {
            # `cargo build`, `cargo test` and `cargo run` link the crate's
            # binaries with the driver and this CUDA set's NVRTC and cuBLAS
            # on their RUNPATH, where cudarc's dlopen finds them; no other
            # program sees these libraries. A RUSTFLAGS of your own replaces
            # this variable (add the same link argument to it), and this
            # variable replaces `build.rustflags` of .cargo/config.toml: keep
            # your flags under `target.<triple>.rustflags` there, which Cargo
            # joins with it (README.md, "No CUDA libraries on LD_LIBRARY_PATH").
            "CARGO_TARGET_${cargoTargetOf.${pkgs.stdenv.hostPlatform.system}}_RUSTFLAGS" =
              "-C link-arg=-Wl,-rpath,${driverLib}:${lib.makeLibraryPath cudaLibs}";
            # torch.compile (Triton) looks for libcuda with ldconfig, which
            # NixOS does not have.
            TRITON_LIBCUDA_PATH = driverLib;
            TRITON_PTXAS_PATH = "${pkgs.cudaPackages.cuda_nvcc}/bin/ptxas";
          };

          shellHook = ''
            # Make the project's Python package importable (src/ layout).
            export PYTHONPATH="$PWD/src''${PYTHONPATH:+:$PYTHONPATH}"
            # Packages nixpkgs does not have (`cargo nixcuda add --pypi`, which
            # reads NIXCUDA_PYTHON): uv installs pylock.pypi.toml into .venv,
            # a virtual environment over this one.
            export NIXCUDA_PYTHON=${python}/bin/python
            if [ -f pylock.pypi.toml ] && bash nix/pypi-venv.sh "$NIXCUDA_PYTHON" uv; then
              export PATH="$PWD/.venv/bin:$PATH"
            fi
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
          postFixup = lib.optionalString pkgs.config.cudaSupport ''
            patchelf --add-rpath ${lib.makeLibraryPath [ cudaPackages.cuda_nvrtc ]} $out/bin/*
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
      formatter = forAllSystems (system: nixpkgsFor.${system}.cpu.nixfmt-tree);

      # The host configuration for the NVIDIA driver and the CUDA caches.
      nixosModules.nvidia = import ./nix/host.nix;
      nixosModules.default = self.nixosModules.nvidia;
    };
}
