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

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.clippy
            pkgs.rustfmt
            pkgs.rust-analyzer
            pkgs.git
            pkgs.nixfmt
            pkgs.python3
          ];
        };
      });

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);
    };
}
