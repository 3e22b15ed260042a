# shellcheck shell=bash
# Sourced by scripts/stack.sh: the local stack's configuration repository (titan.yaml's
# configSync), a Git repository at .titan/config-repo whose first commit is the sample in
# scripts/stack/config-repo/: a few Redis keys (under titan:config:) and one file per local module.
# Created once: an existing repository is never touched, so its history is the operator's.

config_repo() {
  local sample=$ROOT/scripts/stack/config-repo staging
  if [ -d "$CONFIG_REPO/.git" ]; then
    say "config repo present ${CONFIG_REPO#"$ROOT"/} (HEAD $(git -C "$CONFIG_REPO" rev-parse --short HEAD 2>/dev/null || echo none))"
    return 0
  fi
  [ ! -e "$CONFIG_REPO" ] || die "$CONFIG_REPO exists but is not a Git repository: move it away"
  # Built beside it and renamed, so an interrupted `up` never leaves a repository that looks complete.
  staging=$CONFIG_REPO.new # what an interrupted run left is started over
  rm -rf "$staging"
  cp -r "$sample" "$staging"
  # The user's git configuration (signing, hooks, templates) has no say in the sample's commit.
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git -C "$staging" init -q --initial-branch=main --template=
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git -C "$staging" add -A
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git -C "$staging" \
    -c user.name='Titan local stack' -c user.email=stack@titan.invalid \
    commit -q -m 'Sample configuration of the local stack'
  mv "$staging" "$CONFIG_REPO"
  say "config repo created ${CONFIG_REPO#"$ROOT"/} (branch main, titan-config.yaml)"
}
