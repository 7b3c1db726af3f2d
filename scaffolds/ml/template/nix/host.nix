# NixOS module for the machine that runs this project: the NVIDIA driver and
# the binary caches that hold prebuilt CUDA packages.
#
# Use it from your system configuration, then `sudo nixos-rebuild switch` and
# reboot (a new driver needs a new kernel module):
#
#   configuration.nix:  imports = [ /path/to/this/project/nix/host.nix ];
#   flake-based system: modules = [ this-project.nixosModules.nvidia ];
#
# It is a generic configuration. Read the comments on `open`, `package` and
# `prime` below and adapt them to your GPU, or replace this file with one
# made for this machine: `cargo nixcuda nixos --output nix/host.nix --force`
# (it detects the GPUs, their PRIME bus IDs and the right driver).
{
  config,
  lib,
  pkgs,
  ...
}:
{
  # The NVIDIA driver is unfree. CUDA support (`cudaSupport`) is enabled only
  # in the project's flake, not system-wide: system-wide it would rebuild
  # ffmpeg, opencv and others with CUDA.
  nixpkgs.config.allowUnfree = lib.mkDefault true;

  # Puts the driver's libcuda.so in /run/opengl-driver/lib, where CUDA
  # programs built by Nix look for it.
  hardware.graphics.enable = true;

  # Selects the NVIDIA driver. This is also right on headless and Wayland
  # machines: it loads the driver, it does not start an X server.
  services.xserver.videoDrivers = [ "nvidia" ];

  hardware.nvidia = {
    # Open or proprietary kernel modules. It must be set explicitly for
    # drivers >= 560 (NixOS fails with an assertion otherwise):
    #   - true:  Turing (GTX 16xx, RTX 20xx) and newer; REQUIRED on Blackwell
    #            (RTX 50xx, B100/B200) and Grace Hopper.
    #   - false: Maxwell, Pascal and Volta (GTX 9xx, GTX 10xx, Titan V); use
    #            `package = config.boot.kernelPackages.nvidiaPackages.legacy_580;`
    #            too, because 580 is the last driver series for them.
    open = true;

    # The driver series. `stable` follows NixOS' recommended driver;
    # `legacy_580` for Maxwell/Pascal/Volta (see `open` above).
    package = config.boot.kernelPackages.nvidiaPackages.stable;

    modesetting.enable = true;
    nvidiaSettings = true;

    # Desktops and servers only. On a laptop set it to false: it keeps the
    # NVIDIA GPU powered all the time (the battery drains, and the GPU never
    # powers off as `powerManagement.finegrained` below would).
    # Keeps the GPU initialised when no program uses it: CUDA programs start
    # faster, and headless compute machines need it.
    nvidiaPersistenced = true;

    # Laptops only (a chassis that is a notebook, or a battery), with the
    # displays on the integrated GPU: PRIME offload. Set
    # `nvidiaPersistenced = false` above, uncomment the lines below and fill
    # in the bus IDs. Not on a desktop whose monitors hang on the NVIDIA
    # card, even when the CPU has an integrated GPU: offload makes X use the
    # integrated GPU as display device.
    # `lspci -D -d ::03xx` lists the GPUs in HEXADECIMAL, NixOS wants DECIMAL:
    # lspci "01:00.0" -> "PCI:1:0:0", "00:02.0" -> "PCI:0:2:0", "c1:00.0" ->
    # "PCI:193:0:0" (0xc1 = 193). Use amdgpuBusId instead of intelBusId with
    # an AMD CPU. Run programs on the NVIDIA GPU with `nvidia-offload
    # <program>`; CUDA works without it. `powerManagement.finegrained`
    # (Turing and newer, needs offload) powers the NVIDIA GPU off while no
    # program uses it; `powerManagement.enable` keeps its memory over suspend.
    # powerManagement.enable = true;
    # powerManagement.finegrained = true;
    # prime = {
    #   offload.enable = true;
    #   offload.enableOffloadCmd = true;
    #   intelBusId = "PCI:0:2:0";
    #   nvidiaBusId = "PCI:1:0:0";
    # };
  };

  # Prebuilt CUDA packages. Without these caches, torch, tensorflow and the
  # CUDA libraries are compiled locally, which takes hours.
  #   - cache.nixos-cuda.org: the NixOS CUDA team's Hydra cache, which the
  #     team runs for its own development ("internal development purposes
  #     only"); it builds nixos-unstable-small, the revisions the
  #     nixos-cuda/nixpkgs branch nixos-unstable-cuda points to.
  #   - cache.flox.dev: Flox's cache, the licensed redistribution of NVIDIA's
  #     CUDA binaries.
  # They are set here, system-wide, because a flake's own `nixConfig` is
  # ignored unless you are a trusted Nix user (see README.md).
  nix.settings = {
    substituters = [
      "https://cache.nixos-cuda.org"
      "https://cache.flox.dev"
    ];
    trusted-public-keys = [
      "cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M="
      "flox-cache-public-1:7F4OyH7ZCnFhcze3fJdfyXYLQw/aV7GEed86nQ7IsOs="
    ];
  };

  # Optional: let `nix build` sandboxes use the GPU, for derivations that ask
  # for it with `requiredSystemFeatures = [ "cuda" ]`.
  # programs.nix-required-mounts = {
  #   enable = true;
  #   presets.nvidia-gpu.enable = true;
  # };

  # Optional: run binaries and pip/uv wheels that were not built by Nix.
  # Prefer Nix packages (flake.nix); see README.md, "pip install".
  # programs.nix-ld.enable = true;
}
