{
  description = "demo: an image with an argument dockerTools.streamLayeredImage does not take";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      pkgs = nixpkgs.legacyPackages.x86_64-linux;
      python = pkgs.python3.withPackages (ps: [ ps.numpy ]);
    in
    {
      devShells.x86_64-linux.default = pkgs.mkShell { packages = [ python ]; };
      # `entrypoint` is a Dockerfile word; streamLayeredImage wants
      # config.Entrypoint.
      packages.x86_64-linux.image = pkgs.dockerTools.streamLayeredImage {
        name = "demo";
        contents = [ python ];
        entrypoint = [ "${python}/bin/python" ];
      };
    };
}
