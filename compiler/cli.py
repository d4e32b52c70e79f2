"""The command line: parse options, call the core, pick a reporter, map outcomes to exit codes.

Exit codes: 0 ok, 1 invalid input (or drift), 2 usage error, 3 internal error.
Only this module prints. Heavy modules are imported inside the commands so
that `regops validate` starts fast.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from . import __version__

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class Globals:
    verbose: bool
    quiet: bool


class RegopsGroup(click.Group):
    """Turns unexpected exceptions into exit 3 with one line (a traceback only with -v)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 — the one place that catches everything
            verbose = bool(ctx.obj and ctx.obj.verbose)
            if verbose:
                import traceback

                from .redact import scrub

                click.echo(scrub(traceback.format_exc()), err=True, nl=False)
            # The exception text may quote input; print only its type unless asked.
            click.echo(f"regops: internal error ({type(exc).__name__}); run with -v for details", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=RegopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="regops")
@click.option("-v", "--verbose", is_flag=True, help="Show details, and tracebacks of internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems, no summary.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """regops compiles registry access for GitOps clusters.

    \b
    Example:
      regops validate --config ./config
      SOPS_AGE_KEY_FILE=key.txt regops render --config ./config

    \b
    Environment:
      NO_COLOR=1    no colours (FORCE_COLOR=1 keeps them in a pipe)
      CI=true       no progress bar unless --progress is given
    """
    ctx.obj = Globals(verbose=verbose, quiet=quiet)


def _color() -> bool:
    """Colour stdout's text reports? (a terminal, NO_COLOR unset; see style.py)"""
    from .style import enabled

    return enabled(sys.stdout)


def _problems(g: Globals, fmt: str, problems, errors: int, warnings: int, files: int) -> None:
    """Print problems in fmt; -q drops the text summary line."""
    from .reporting import problems_report

    color = _color()
    out = problems_report(fmt, problems, errors, warnings, files, color=color)
    if g.quiet and fmt == "text":
        out = "".join(line + "\n" for line in out.splitlines()[:-1])
    click.echo(out, nl=False, color=color)


def _progress(flag: bool | None, g: Globals, label: str):
    from .progress import start

    return start(flag, quiet=g.quiet, stream=sys.stderr, label=label)


PROGRESS_HELP = "Progress bar on stderr for slow runs (default: on a terminal, not with -q or CI set)."


FORMATS = click.Choice(["text", "json", "github"])
CONFIG_DIR = click.Path(file_okay=False, dir_okay=True, exists=True, path_type=Path)


@cli.command()
@click.option("--config", "config_dir", type=CONFIG_DIR, default=".", show_default=True, help="Config directory.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.pass_obj
def validate(g: Globals, config_dir: Path, fmt: str) -> None:
    """Check a config directory without any key (pre-commit, pull requests).

    \b
    Example:
      regops validate --config examples/basic --format github
    """
    from .validation import validate_config

    result = validate_config(config_dir)
    if g.verbose:
        for name in result.files:
            click.echo(f"checked {name}", err=True)
    _problems(g, fmt, result.problems, result.errors, result.warnings, len(result.files))
    sys.exit(EXIT_OK if result.ok else EXIT_INVALID)


@cli.command()
@click.option("--config", "config_dir", type=CONFIG_DIR, default=".", show_default=True, help="Config directory.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Output directory (default: Settings output, relative to the config).")
@click.option("--cluster", "clusters", multiple=True, metavar="GLOB", help="Render only matching clusters (repeatable).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and list what would change when the tree is stale.")
@click.option("--wait", is_flag=True, help="Wait for another render of the same output instead of failing.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Format of problems and of --check.")
@click.option("--progress/--no-progress", "show_progress", default=None, help=PROGRESS_HELP)
@click.pass_obj
def render(g: Globals, config_dir: Path, output: Path | None, clusters: tuple[str, ...], check: bool, wait: bool, jobs: int | None, fmt: str, show_progress: bool | None) -> None:
    """Decrypt the registries and render every cluster's manifests, each Secret sealed for its cluster.

    Needs the config's decryption key, as sops does (SOPS_AGE_KEY_FILE, ...).
    Unchanged files keep their bytes; files regops no longer produces are removed;
    files it did not write are left alone and reported.

    \b
    Examples:
      SOPS_AGE_KEY_FILE=key.txt regops render --config examples/basic
      regops render --config examples/basic --check     # the CI drift gate
    """
    from . import pipeline
    from .reporting import render_report

    request = pipeline.RenderRequest(config_dir=config_dir, output=output, clusters=clusters, verbose=g.verbose, check=check, wait=wait, jobs=jobs)
    bar = _progress(show_progress, g, "checking" if check else "rendering")
    try:
        result = pipeline.run(request, progress=bar)
    finally:
        if bar is not None:
            bar.close()  # blank the bar before anything else is printed
    if not result.ok:
        errors = sum(1 for p in result.problems if p.severity.value == "error")
        _problems(g, fmt, result.problems, errors, len(result.problems) - errors, result.files_checked)
        if not g.quiet:
            click.echo("nothing was written", err=True)
        sys.exit(EXIT_INVALID)
    color = _color()
    click.echo(render_report(result, fmt, check=check, quiet=g.quiet, verbose=g.verbose, color=color), nl=False, color=color)
    sys.exit(EXIT_INVALID if check and result.diff.any else EXIT_OK)


@cli.command()
@click.option("--config", "config_dir", type=CONFIG_DIR, default=".", show_default=True, help="Config directory.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Output directory to compare with.")
@click.option("--cluster", "clusters", multiple=True, metavar="GLOB", help="Only matching clusters (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--progress/--no-progress", "show_progress", default=None, help=PROGRESS_HELP)
@click.pass_obj
def plan(g: Globals, config_dir: Path, output: Path | None, clusters: tuple[str, ...], fmt: str, show_progress: bool | None) -> None:
    """Show which registry reaches which cluster, namespace and ServiceAccount, and what a render would change.

    No secret values are shown. The change list needs the config key, like render.

    \b
    Example:
      SOPS_AGE_KEY_FILE=key.txt regops plan --config examples/basic --format json
    """
    from . import pipeline
    from .reporting import plan_report

    request = pipeline.RenderRequest(config_dir=config_dir, output=output, clusters=clusters, verbose=g.verbose, check=True, plans=True)
    bar = _progress(show_progress, g, "planning")
    try:
        result = pipeline.run(request, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if not result.ok:
        errors = sum(1 for p in result.problems if p.severity.value == "error")
        _problems(g, fmt, result.problems, errors, len(result.problems) - errors, result.files_checked)
        sys.exit(EXIT_INVALID)
    color = _color() and fmt == "text"
    click.echo(plan_report(result, fmt, verbose=g.verbose, color=color), nl=False, color=color)
    sys.exit(EXIT_OK)


@cli.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--age-recipient", "recipients", multiple=True, metavar="AGE_PUBLIC_KEY", help="age public key (age1...) for .sops.yaml and the example cluster (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.pass_obj
def init(g: Globals, directory: Path, recipients: tuple[str, ...], force: bool) -> None:
    """Scaffold a config directory: commented clusters.yaml, registries.yaml and
    regops.yaml, a .sops.yaml that encrypts exactly the secret fields, and the
    JSON schemas the files' editor modelines point to.

    If any of these files exists, it writes nothing at all unless --force.

    \b
    Example:
      regops init config --age-recipient age1...
    """
    from . import scaffold

    for recipient in recipients:
        why = scaffold.recipient_problem(recipient)
        if why:
            raise click.BadParameter(why, param_hint="'--age-recipient'")
    try:
        scaffold.write(directory, scaffold.build(recipients), force=force)
    except scaffold.ScaffoldError as exc:
        click.echo(f"regops init: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if not g.quiet:
        click.echo(scaffold.next_steps(directory, recipients), nl=False)


@cli.command()
@click.option("--config", "config_dir", type=CONFIG_DIR, default=".", show_default=True, help="Config directory.")
@click.option("--registry", "registries", multiple=True, metavar="NAME", help="Check only this registry (repeatable; globs allowed).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), default=10.0, show_default=True, help="Seconds per HTTP request.")
@click.pass_obj
def verify(g: Globals, config_dir: Path, registries: tuple[str, ...], fmt: str, timeout: float) -> None:
    """Log in to each registry with its decrypted credentials and check pull access to each chart repository.

    Talks to the registries as a container runtime does (GET /v2/, then Basic or
    Bearer). Statuses: ok, unauthorized, forbidden, tls-error, unreachable,
    skipped. Exit 0 when every registry is ok or skipped. Needs the config's
    decryption key and network access; no secret is ever printed.

    \b
    Example:
      SOPS_AGE_KEY_FILE=key.txt regops verify --config examples/basic --registry docker-hub
    """
    from . import verification
    from .redact import scrub
    from .verify_report import VERIFY_REPORTERS

    request = verification.VerifyRequest(config_dir=config_dir, registries=registries, timeout=timeout, verbose=g.verbose)
    result = verification.run(request)
    if result.problems:
        errors = sum(1 for p in result.problems if p.severity.value == "error")
        _problems(g, fmt, result.problems, errors, len(result.problems) - errors, result.files_checked)
        if not g.quiet:
            click.echo("no registry was checked", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(scrub(VERIFY_REPORTERS[fmt](result, verbose=g.verbose, quiet=g.quiet)), nl=False)
    sys.exit(EXIT_OK if result.ok else EXIT_INVALID)


@cli.command()
@click.argument("kind", required=False, type=click.Choice(["registries", "clusters", "settings"], case_sensitive=False))
@click.option("--write", "write_dir", type=click.Path(file_okay=False, path_type=Path), help="Write every schema file into this directory.")
@click.pass_obj
def schema(g: Globals, kind: str | None, write_dir: Path | None) -> None:
    """Print the JSON Schema of an input file kind (generated from the models).

    \b
    Examples:
      regops schema registries
      regops schema --write schemas/
    """
    from . import schema as schemas

    kinds = [schemas.KINDS[kind.lower()]] if kind else list(schemas.KINDS.values())
    if write_dir is not None:
        write_dir.mkdir(parents=True, exist_ok=True)
        for k in kinds:
            (write_dir / schemas.file_name(k)).write_text(schemas.render(k), encoding="utf-8")
            if g.verbose:
                click.echo(f"wrote {write_dir / schemas.file_name(k)}", err=True)
        return
    if len(kinds) != 1:
        raise click.UsageError("name a KIND (registries, clusters, settings) or use --write DIR")
    click.echo(schemas.render(kinds[0]), nl=False)


def main() -> None:
    cli(prog_name="regops")


if __name__ == "__main__":
    main()
