# The nixdots suite as one package: the five binaries, the git hooks and
# their installer, the pre-switch check, the importable justfile, shell
# completions and man pages (generated from the binaries' kong models at build
# time, so they always match the flags) and the docs.
{
  lib,
  buildGoModule,
  installShellFiles,
  version ? "dev",
}:
let
  binaries = [
    "chezmoi-sync"
    "chezmoi-status"
    "chezmoi-show-conflicts"
    "rebuild-smart"
    "rebuild-rollback"
  ];
in
buildGoModule {
  pname = "nixdots";
  inherit version;

  # Only what the build reads: editing the flake or the module does not rebuild.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../go.mod
      ../go.sum
      ../cmd
      ../pkg
      (lib.fileset.maybeMissing ../internal)
      ../hooks
      ../docs
      ../just
    ];
  };

  # The hash of `go mod vendor` for go.mod/go.sum. When they change, print the
  # new one with `just vendor-hash` (internal/packagingtest checks it is current).
  vendorHash = "sha256-QjcGHbL8Sgxldh1Bz1iNetJYjQybG2ZJRL29YV7DTvA=";

  subPackages = map (b: "cmd/${b}") binaries;
  ldflags = [
    "-s"
    "-w"
    "-X github.com/nixdots/nixdots/pkg/cli.Version=${version}"
  ];
  env.CGO_ENABLED = 0;

  nativeBuildInputs = [ installShellFiles ];

  # The hooks are copied into repositories' .git/hooks, outside any GC root:
  # a store-path interpreter would vanish with the next garbage collection
  # and a reference-transaction hook that cannot start aborts every ref
  # update. /bin/sh exists on NixOS and everywhere else.
  dontPatchShebangs = true;

  # The test suite drives real jj, chezmoi, nix and just against temporary
  # repositories; it runs in CI (scripts/test), not in the sandbox.
  doCheck = false;

  postBuild = ''
    go build -o "$TMPDIR/nixdots-gendocs" ./cmd/nixdots-gendocs
    "$TMPDIR/nixdots-gendocs" -out "$TMPDIR/gen" -version ${lib.escapeShellArg version}
  '';

  postInstall = ''
    hooks=$out/share/nixdots/hooks
    install -Dm755 hooks/nixdots-hook "$hooks/nixdots-hook"
    ln -s nixdots-hook "$hooks/reference-transaction"
    ln -s nixdots-hook "$hooks/post-merge"
    install -Dm755 hooks/install "$hooks/install"
    install -Dm755 hooks/pre-switch-check "$hooks/pre-switch-check"
    ln -s ../share/nixdots/hooks/install $out/bin/nixdots-install-hooks
    install -Dm644 just/rebuild-smart.just $out/share/nixdots/rebuild-smart.just
    install -Dm644 -t $out/share/doc/nixdots docs/*.md

    for b in ${lib.concatStringsSep " " binaries}; do
      installShellCompletion --cmd "$b" \
        --bash "$TMPDIR/gen/completions/$b.bash" \
        --zsh "$TMPDIR/gen/completions/_$b" \
        --fish "$TMPDIR/gen/completions/$b.fish"
    done
    installManPage "$TMPDIR"/gen/man/*.1
  '';

  meta = {
    description = "Multi-host chezmoi dotfile sync through jj and one-command NixOS rebuilds with rollback";
    platforms = lib.platforms.linux;
    mainProgram = "rebuild-smart";
  };
}
