#!/usr/bin/env bash
# regops CI stage for a config repository: validate, then render --check (drift
# gate) or render (leave the changes for a commit step).
#
# Settings (environment variables):
#   REGOPS_MODE      validate | check | render                        (default: check)
#                      validate: `regops validate` only; needs no key
#                      check:    validate, then `regops render --check`; exit 1 when stale
#                      render:   validate, then `regops render`; changes stay for a commit step
#   REGOPS_CONFIG    config directory                                   (default: .)
#   REGOPS_CLUSTERS  space-separated cluster globs (--cluster), to shard a fleet over jobs
#   REGOPS_FORMAT    text | github            (default: github when GITHUB_ACTIONS=true, else text)
#   REGOPS_INSTALL   auto | never | always    (default: auto = install only when `regops`
#                    is not on PATH)
#   REGOPS_SPEC      what pip installs, e.g. 'regops @ git+https://github.com/ORG/regops@v0.1.0'
#   REGOPS_VERSION   shorthand for REGOPS_SPEC='regops==VERSION' (PyPI)
#   REGOPS_VENV      where to install (default: $RUNNER_TEMP or $TMPDIR or /tmp, /regops-venv)
#   PYTHON           interpreter that creates the venv                  (default: python3)
# Key (check and render modes), read by sops itself and never printed here:
#   SOPS_AGE_KEY (the key text, e.g. from a CI secret) or SOPS_AGE_KEY_FILE (a path);
#   sops' other key sources (KMS, PGP, ~/.config/sops/age/keys.txt) work too.
#
# Exit codes: 0 ok; 1 invalid config or stale rendered tree; 2 bad settings for this
# script (mode, format, key, missing regops); 3 regops internal error; 4 install failed.
set -euo pipefail

mode=${REGOPS_MODE:-check}
config=${REGOPS_CONFIG:-.}
install=${REGOPS_INSTALL:-auto}
if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then default_format=github; else default_format=text; fi
format=${REGOPS_FORMAT:-$default_format}

# On stderr, so stdout carries only regops' own report.
say() { printf 'regops-ci: %s\n' "$*" >&2; }

# Errors of this script become annotations on GitHub, like regops' own.
fail() {
    local code=$1
    shift
    if [[ "$format" == "github" ]]; then
        # Workflow commands end at a newline; GitHub decodes %25, %0D and %0A.
        local msg=${*//%/%25}
        msg=${msg//$'\r'/%0D}
        printf '::error title=regops-ci::%s\n' "${msg//$'\n'/%0A}" >&2
    else
        printf 'regops-ci: error: %s\n' "$*" >&2
    fi
    exit "$code"
}

case "$mode" in validate | check | render) ;; *) fail 2 "REGOPS_MODE must be validate, check or render, not '$mode'" ;; esac
case "$format" in text | github) ;; *) fail 2 "REGOPS_FORMAT must be text or github, not '$format'" ;; esac
case "$install" in auto | never | always) ;; *) fail 2 "REGOPS_INSTALL must be auto, never or always, not '$install'" ;; esac
[[ -d "$config" ]] || fail 2 "REGOPS_CONFIG '$config' is not a directory"

install_regops() {
    local spec=${REGOPS_SPEC:-}
    if [[ -z "$spec" && -n "${REGOPS_VERSION:-}" ]]; then spec="regops==${REGOPS_VERSION}"; fi
    # No silent default: an unpinned name from an index would run with the config key.
    [[ -n "$spec" ]] || fail 2 "regops is not on PATH; set REGOPS_SPEC (e.g. 'regops @ git+https://github.com/ORG/regops@v0.1.0') or REGOPS_VERSION"
    local venv=${REGOPS_VENV:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/regops-venv}
    local python=${PYTHON:-python3}
    say "installing '$spec' into $venv"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$python" -m venv "$venv" || fail 4 "could not create a virtual environment at $venv with $python"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" ||
        fail 4 "pip could not install '$spec'"
    [[ -x "$venv/bin/regops" ]] || fail 4 "'$spec' installed no regops command into $venv/bin"
    PATH="$venv/bin:$PATH"
}

if [[ "$install" == "always" ]]; then
    install_regops
elif command -v regops >/dev/null 2>&1; then
    say "regops found at $(command -v regops); install skipped"
elif [[ "$install" == "never" ]]; then
    fail 2 "regops is not on PATH and REGOPS_INSTALL=never"
else
    install_regops
fi
version=$(regops --version) || fail 3 "'regops --version' failed: is the regops at $(command -v regops) installed correctly?"
say "$version | mode=$mode config=$config format=$format${REGOPS_CLUSTERS:+ clusters=$REGOPS_CLUSTERS}"

if [[ "$mode" != "validate" ]]; then
    # CI secrets that are missing (e.g. on pull requests from forks) arrive empty.
    if [[ -n "${SOPS_AGE_KEY_FILE:-}" ]]; then
        [[ -r "$SOPS_AGE_KEY_FILE" ]] || fail 2 "SOPS_AGE_KEY_FILE '$SOPS_AGE_KEY_FILE' is not a readable file"
    elif [[ -n "${SOPS_AGE_KEY+set}" && -z "$SOPS_AGE_KEY" ]]; then
        fail 2 "SOPS_AGE_KEY is set but empty: is the CI secret defined and available to this event?"
    elif [[ -z "${SOPS_AGE_KEY+set}" ]]; then
        say "neither SOPS_AGE_KEY nor SOPS_AGE_KEY_FILE is set; sops will look for its other key sources"
    fi
fi

rc=0
regops validate --config "$config" --format "$format" || rc=$?
case "$rc" in
    0) ;;
    1) fail 1 "the config in '$config' is invalid (problems listed above); nothing was rendered" ;;
    *) fail "$rc" "regops validate failed with exit code $rc" ;;
esac
[[ "$mode" == "validate" ]] && exit 0

render_args=(--config "$config" --format "$format")
if [[ -n "${REGOPS_CLUSTERS:-}" ]]; then
    read -r -a globs <<<"$REGOPS_CLUSTERS"  # read -a splits without expanding globs
    for glob in "${globs[@]}"; do render_args+=(--cluster "$glob"); done
fi

if [[ "$mode" == "check" ]]; then
    regops render --check "${render_args[@]}" || rc=$?
    case "$rc" in
        0) say "rendered tree is up to date" ;;
        1) fail 1 "rendered tree is stale or could not be rendered (see above); run 'regops render --config $config' with the config key and commit the result" ;;
        *) fail "$rc" "regops render --check failed with exit code $rc" ;;
    esac
else
    regops render "${render_args[@]}" || rc=$?
    case "$rc" in
        0) say "rendered; commit the changes in the output directory" ;;
        1) fail 1 "could not render (see above); the output tree was left as it was" ;;
        *) fail "$rc" "regops render failed with exit code $rc" ;;
    esac
fi
