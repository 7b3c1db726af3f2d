# The Python packages of the Nix environments, from pyproject.toml: it is
# the one list (`cargo nixcuda add NAME` and `cargo nixcuda remove NAME` edit
# it). flake.nix and shell.nix call this with the parsed pyproject.toml.
#
# An environment gets `[project] dependencies`, the extras of
# `[project.optional-dependencies]` (all but those it leaves out: the
# TensorFlow environment of a project with both frameworks leaves out
# `torch`) and the `dev` group of `[dependency-groups]`. Each distribution
# name becomes the nixpkgs attribute of the same name (PEP 503 normalised:
# `Scikit_Learn` is `scikit-learn`), or the one `[tool.nixcuda.nix-attributes]`
# maps it to. Versions, extras and markers are Nix's business: the locked
# nixpkgs has one version of each package, built for CUDA and cached. The
# `pypi` group is uv's (README.md, "Python packages").
pyproject:
let
  b = builtins;
  letters = s: b.genList (n: b.substring n 1 s) 26;
  lower = b.replaceStrings (letters "ABCDEFGHIJKLMNOPQRSTUVWXYZ") (
    letters "abcdefghijklmnopqrstuvwxyz"
  );

  # PEP 508: the name comes first, then extras, a version or a marker.
  nameOf =
    requirement:
    let
      m = b.match "[[:space:]]*([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?).*" requirement;
    in
    if m == null then
      throw "pyproject.toml: `${requirement}` is not a requirement (PEP 508: a distribution name first)"
    else
      b.head m;
  # PEP 503: lower case, every run of `-`, `_` and `.` one `-`.
  normalise = name: lower (b.concatStringsSep "-" (b.filter b.isString (b.split "[-_.]+" name)));

  attributes = pyproject.tool.nixcuda.nix-attributes or { };
  attributeOf =
    requirement:
    let
      name = normalise (nameOf requirement);
    in
    attributes.${name} or name;

  extras = pyproject.project.optional-dependencies or { };
  # Requirement strings only: an `{ include-group = ... }` table is for uv and pip.
  requirements = b.filter b.isString;
in
rec {
  # The nixpkgs attribute names of an environment that leaves out the extras
  # named in `without`.
  attributesFor =
    without:
    map attributeOf (
      requirements (
        (pyproject.project.dependencies or [ ])
        ++ b.concatLists (b.attrValues (b.removeAttrs extras without))
        ++ (pyproject.dependency-groups.dev or [ ])
      )
    );

  # The argument of `withPackages`: the packages from its package set `ps`.
  packagesFor =
    without: ps:
    map (
      attribute:
      ps.${attribute}
        or (throw "pyproject.toml: nixpkgs has no Python package `${attribute}`. If nixpkgs names it differently, map the distribution name to its attribute in [tool.nixcuda.nix-attributes]; if nixpkgs does not have it, `cargo nixcuda remove ${attribute}` then `cargo nixcuda add --pypi ${attribute}` installs it from PyPI")
    ) (attributesFor without);
}
