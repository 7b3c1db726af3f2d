{
  description = "cargo-nixcuda: scaffold NixOS + CUDA machine-learning repositories";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          inherit (pkgs) lib;
          unwrapped = pkgs.rustPlatform.buildRustPackage {
            pname = "cargo-nixcuda-unwrapped";
            version = "0.1.0";
            src = lib.cleanSource ./.;
            cargoLock.lockFile = ./Cargo.lock;
            # The integration tests drive git repositories and, in CI, Nix and
            # Python; the sandbox runs the unit tests.
            cargoTestFlags = [ "--lib" ];
            nativeBuildInputs = [ pkgs.installShellFiles ];
            # The completion scripts and man pages come from the binary just
            # built, which a cross build cannot run.
            postInstall = lib.optionalString (pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform) ''
              installShellCompletion --cmd cargo-nixcuda \
                --bash <($out/bin/cargo-nixcuda completions bash) \
                --zsh <($out/bin/cargo-nixcuda completions zsh) \
                --fish <($out/bin/cargo-nixcuda completions fish)
              $out/bin/cargo-nixcuda man --dir man
              installManPage man/*.1
            '';
            meta.mainProgram = "cargo-nixcuda";
          };
          # Team templates from remote URLs are cloned with the `git` command
          # line (so SSH config and credential helpers work): keep it on PATH.
          wrapper = pkgs.writeShellScriptBin "cargo-nixcuda" ''
            export PATH=${lib.makeBinPath [ pkgs.git ]}''${PATH:+:$PATH}
            exec ${unwrapped}/bin/cargo-nixcuda "$@"
          '';
        in
        {
          inherit unwrapped;
          default = pkgs.symlinkJoin {
            name = "cargo-nixcuda-0.1.0";
            paths = [
              wrapper
              unwrapped
            ];
            meta.mainProgram = "cargo-nixcuda";
          };
        }
      );

      # `nix develop`: what the test suite needs (README, "Run the tests"),
      # in place of .ci/setup's apt-get and virtualenvs. The Python the tests
      # run generated code with has actionlint and maturin beside it, where
      # the tests look for them. `nix develop .#full` adds the PyTorch and
      # TensorFlow environments (CPU builds, several GiB).
      devShells = forAllSystems (
        pkgs:
        let
          data = ps: [
            ps.numpy
            ps.pandas
            ps.scikit-learn
            ps.matplotlib
            ps.pytest
            ps.nbformat
            ps.nbclient
            ps.ipykernel
          ];
          testPython = pkgs.symlinkJoin {
            name = "cargo-nixcuda-test-python";
            paths = [
              (pkgs.python3.withPackages data)
              pkgs.actionlint
              pkgs.maturin
            ];
          };
          torchPython = pkgs.python3.withPackages (ps: data ps ++ [ ps.torch ]);
          # TensorFlow has no wheels for Python 3.14.
          tfPython = pkgs.python313.withPackages (
            ps:
            data ps
            ++ [
              ps.tensorflow
              ps.tf-keras
              ps.keras
            ]
          );
          tools = [
            pkgs.cargo
            pkgs.rustc
            pkgs.clippy
            pkgs.rustfmt
            pkgs.rust-analyzer
            pkgs.git
            pkgs.nix
            pkgs.bashInteractive
            pkgs.zsh
            pkgs.fish
            pkgs.nixfmt
            testPython
          ];
        in
        {
          default = pkgs.mkShell {
            packages = tools;
            NIXCUDA_TEST_PYTHON = "${testPython}/bin/python";
          };
          full = pkgs.mkShell {
            packages = tools;
            NIXCUDA_TEST_PYTHON = "${testPython}/bin/python";
            NIXCUDA_TEST_TORCH_PYTHON = "${torchPython}/bin/python";
            NIXCUDA_TEST_TF_PYTHON = "${tfPython}/bin/python";
          };
        }
      );

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);
    };
}
