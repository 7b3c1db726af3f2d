{
  description = "demo: cudaPackages_13 asked to build for a Pascal GPU";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      pkgs = import nixpkgs {
        system = "x86_64-linux";
        config = {
          allowUnfree = true;
          cudaSupport = true;
          cudaCapabilities = [
            "6.1"
            "8.6"
          ];
        };
      };
    in
    {
      devShells.x86_64-linux.default = pkgs.mkShell {
        packages = [ pkgs.cudaPackages_13.cuda_nvcc ];
      };
    };
}
