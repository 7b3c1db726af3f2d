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
            # .nixcuda/python for editors and Jupyter (nix/editor-python.sh).
            if [ -f flake.nix ]; then
              bash nix/editor-python.sh ${python} flake.nix
            fi
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

      # The project's Python package for the image, laid out as in the shell
      # (src/ on PYTHONPATH).
      appFor =
        pkgs:
        pkgs.runCommand "ipsa-prediction-app" { } ''
          mkdir -p $out
          cp -r ${./src} $out/src
        '';

      # The image's entrypoint: makes the host's NVIDIA driver visible where
      # Nix-built CUDA programs look for it, then runs the command.
      #
      # torch from nixpkgs finds libcuda.so.1 through its RUNPATH, in
      # /run/opengl-driver/lib (addDriverRunpath). The NVIDIA container
      # toolkit mounts the host's driver elsewhere: with CDI
      # (`--device nvidia.com/gpu=all`) at the host's own paths, the
      # distribution's library directory (/usr/lib/x86_64-linux-gnu on
      # Debian and Ubuntu, /usr/lib64 on RHEL) or, on a NixOS host,
      # /nix/store/...-nvidia-x11-.../lib; the legacy runtime and enroot put it
      # in the image's library directory, old nvidia-docker layouts in
      # /usr/local/nvidia/lib64, `apptainer --nv` in /.singularity.d/libs. The
      # toolkit's ld.so.cache update does not help: Nix's glibc never reads
      # /etc/ld.so.cache (nixpkgs' glibc, dont-use-system-ld-so-cache.patch;
      # nixpkgs issues #78739, #366109, PR #278969).
      #
      # So the shim finds the mounted libcuda.so.1 and links the driver's
      # libraries (libcuda, libnvidia-*) into /run/opengl-driver/lib: torch's
      # RUNPATH stays as it is, and no LD_LIBRARY_PATH overrides the CUDA
      # libraries torch was built with. Where /run cannot be written (a
      # read-only root file system, a user that is not root) the links go to
      # a directory of their own, ahead on LD_LIBRARY_PATH: it holds the
      # driver's libraries only, which no library of the image shares a name
      # with, so nothing of torch's is shadowed. CUDA_DRIVER_DIRS (a list
      # separated by `:`) replaces the directories searched.
      driverShimFor =
        pkgs:
        pkgs.writeShellApplication {
          name = "ipsa-prediction-entrypoint";
          runtimeInputs = [ pkgs.coreutils ];
          text = ''
            link=/run/opengl-driver/lib
            if [ ! -e "$link/libcuda.so.1" ]; then
              if [ -n "''${CUDA_DRIVER_DIRS:-}" ]; then
                IFS=: read -ra dirs <<<"$CUDA_DRIVER_DIRS"
              else
                dirs=(
                  /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib
                  /lib/x86_64-linux-gnu /lib/aarch64-linux-gnu /lib64
                  /usr/local/nvidia/lib64 /usr/local/nvidia/lib /.singularity.d/libs
                  /nix/store/*-nvidia-x11-*/lib
                )
              fi
              found=
              for dir in "''${dirs[@]}"; do
                if [ -e "$dir/libcuda.so.1" ]; then
                  found=$dir
                  break
                fi
              done
              if [ -n "$found" ]; then
                if ! { mkdir -p "$link" 2>/dev/null && [ -w "$link" ]; }; then
                  if ! link=$(mktemp -d "''${TMPDIR:-/tmp}/nvidia-driver.XXXXXX" 2>/dev/null); then
                    echo "warning: neither /run/opengl-driver/lib nor ''${TMPDIR:-/tmp} can be written: torch will not find the driver in $found (README.md, \"The image\")" >&2
                    exec "$@"
                  fi
                  export LD_LIBRARY_PATH="$link''${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
                fi
                for lib in "$found"/libcuda.so* "$found"/libcudadebugger.so* "$found"/libnvidia-*.so*; do
                  if [ -e "$lib" ]; then
                    ln -sfn "$lib" "$link/"
                  fi
                done
              else
                case "''${NVIDIA_VISIBLE_DEVICES:-void}" in
                  void | none | "") ;;
                  *) echo "warning: GPUs were requested (NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES) but no libcuda.so.1 was mounted; torch runs on the CPU (README.md, \"The image\")" >&2 ;;
                esac
              fi
            fi
            exec "$@"
          '';
        };

      # `nix build .#image && ./result | docker load` (README.md, "The
      # image"): the Python environment of the dev shell (the same
      # derivation: `pythonFor` of the same package set), the project and
      # the entrypoint, in layers shared between rebuilds.
      imageFor =
        pkgs: name:
        let
          python = pythonFor pkgs;
          shim = driverShimFor pkgs;
        in
        pkgs.dockerTools.streamLayeredImage {
          inherit name;
          tag = "latest";
          contents = [
            python
            shim
            pkgs.bashInteractive
            pkgs.coreutils
            # /etc/passwd and /etc/group: getpass.getuser() (torch's caches)
            # needs an entry for the user.
            pkgs.dockerTools.fakeNss
          ];
          # torchrun, tempfile and torch's caches write to /tmp.
          extraCommands = ''
            mkdir -m 1777 tmp
          '';
          config = {
            # Kubernetes' `command:` and Docker's `--entrypoint` replace the
            # shim: give the command as arguments (`args:`, after the image).
            Entrypoint = [ (lib.getExe shim) ];
            Cmd = [
              "python"
              "-m"
              "ipsa_prediction.train"
            ];
            Env = [
              "PATH=/bin"
              "PYTHONPATH=${appFor pkgs}/src"
              "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
              # What the toolkit mounts: CUDA and nvidia-smi, no graphics.
              # NVIDIA_VISIBLE_DEVICES is left to the request (`--device
              # nvidia.com/gpu=...`, `--gpus`, the device plugin): set to
              # `all` in the image, a host whose default runtime is NVIDIA's
              # would hand every GPU to every container.
              "NVIDIA_DRIVER_CAPABILITIES=compute,utility"
              # torch.compile (Triton) looks for libcuda with ldconfig.
              "TRITON_LIBCUDA_PATH=/run/opengl-driver/lib"
            ];
          };
          passthru = { inherit python; };
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
            pkgs: python: name: tests:
            pkgs.runCommand "ipsa-prediction-${name}" { nativeBuildInputs = [ python ]; } ''
              cp -r ${./.} source
              chmod -R u+w source
              cd source
              export HOME=$TMPDIR PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$PWD/src
              python -m pytest -q -rs -p no:cacheprovider ${tests}
              touch $out
            '';
        in
        {
          pytest = pytestFor pkgs (pythonFor pkgs) "pytest" "tests";
          # Two training processes (gloo) on loopback, in the sandbox: their
          # parameters agree after a few steps.
          ddp-cpu = pytestFor pkgs (pythonFor pkgs) "ddp-cpu" "tests/test_distributed.py";
          rust = crate;
        }
      );

      packages = forAllSystems (system: {
        # `nix run`: the crate's demo program, built against the CUDA set.
        default = crateFor nixpkgsFor.${system}.cuda;
        # The training image with CUDA, and without (CI, CPU nodes).
        image = imageFor nixpkgsFor.${system}.cuda "ipsa-prediction";
        image-cpu = imageFor nixpkgsFor.${system}.cpu "ipsa-prediction-cpu";
      });

      # `nix run .#image | docker load`: the image is a script that writes
      # it to stdout, not a program in bin/.
      apps = forAllSystems (
        system:
        lib.genAttrs [ "image" "image-cpu" ] (image: {
          type = "app";
          program = "${self.packages.${system}.${image}}";
          meta.description = "Write the ${image} of ipsa-prediction to stdout (pipe it into `docker load`)";
        })
      );

      # `nix fmt`: formats every .nix file (official nixfmt style).
      formatter = forAllSystems (system: nixpkgsFor.${system}.cpu.nixfmt-tree);

      # The host configuration for the NVIDIA driver and the CUDA caches.
      nixosModules.nvidia = import ./nix/host.nix;
      nixosModules.default = self.nixosModules.nvidia;
    };
}
