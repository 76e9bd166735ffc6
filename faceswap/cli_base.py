"""What every `faceswap` command shares: one-line errors and exit codes, and the help text
that is read from where options are defined (the options records, their ranges, the presets).

Kept apart from cli.py so that each command's options stay beside the command.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from . import defaults
from .errors import FaceswapError
from .model.config import ModelConfig, field_default
from .ranges import range_of
from .train.config import PRESETS, TrainConfig, preset

# Commands whose exit code 2 says something else than "usage error" (verify: no label found):
# their usage errors exit 1, as any other error, so a script never reads one as the other.
_EXIT_2_TAKEN = ("verify",)


class OneLineUsageError(click.UsageError):
    """A click usage error (unknown option, missing argument, bad choice) on one line, with the
    --help hint on it, instead of click's usage block; the exit code stays 2 (1 for the
    commands in _EXIT_2_TAKEN)."""

    def __init__(self, message: str, ctx: click.Context | None = None) -> None:
        super().__init__(message, ctx)
        if ctx is not None and ctx.command is not None and ctx.command.name in _EXIT_2_TAKEN:
            self.exit_code = 1

    def show(self, file: Any = None) -> None:
        hint = f" (try '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"error: {self.format_message().rstrip('.')}{hint}", file=file, err=file is None)


class Group(click.Group):
    """The `faceswap` group: its own and its commands' usage errors as OneLineUsageError."""

    @staticmethod
    def _one_line(err: click.UsageError) -> click.UsageError:
        if isinstance(err, (OneLineUsageError, click.exceptions.NoArgsIsHelpError)):
            return err  # `faceswap` alone shows the help, as click does
        return OneLineUsageError(err.format_message(), err.ctx)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as err:
            raise self._one_line(err) from None

    def invoke(self, ctx: click.Context) -> Any:
        # a command's own options are parsed here, when the group makes the command's context
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            raise self._one_line(err) from None


def must(cls: type, name: str) -> str:
    """' Must be in 0-51.': the range declared on field `name` of options record `cls`, as its
    validate() words it (faceswap/ranges.py)."""
    return f" Must be {range_of(cls, name)}."


def user_errors(func: Callable) -> Callable:
    """Every command: SIGTERM stops it as Ctrl-C does (api.terminate_as_interrupt); a
    FaceswapError becomes one line on stderr and its exit code; an interruption exits 130."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .api import EXIT_CODES, terminate_as_interrupt
        try:
            with terminate_as_interrupt():
                return func(*args, **kwargs)
        except FaceswapError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_CODES["interrupted"])
    return wrapper


def finish(result: Any, problem: str | None = None) -> None:
    """End a command with the exit code of the API result's status (returns when it is 0),
    with `problem` as the one-line error."""
    from .api import exit_code
    if result.status == "interrupted":
        raise KeyboardInterrupt  # reported by user_errors, as a Ctrl-C outside the stage is
    if problem:
        click.echo(f"error: {problem}", err=True)
    code = exit_code(result)
    if code:
        sys.exit(code)


def shown(value: Any) -> str:
    """A default as --help shows it (flags as on/off)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def train_default(name: str, unset: str = "no limit") -> str:
    """' [default: ...]' for TrainConfig field `name`, read from the dataclass; `unset` words a None."""
    value = field_default(TrainConfig, name)
    return f" [default: {unset if value is None else shown(value)}]"


def preset_default(name: str) -> str:
    """' [default: from the preset: ...]' with each preset's value of ModelConfig/TrainConfig field `name`."""
    def value(p: str) -> Any:
        model_cfg, train_cfg = preset(p)
        return getattr(model_cfg, name) if hasattr(model_cfg, name) else getattr(train_cfg, name)
    return f" [default: from the preset: {', '.join(f'{p} {shown(value(p))}' for p in PRESETS)}]"


def train_must(name: str) -> str:
    """`must` for a train option: field `name` of ModelConfig, else of TrainConfig."""
    return must(ModelConfig if name in ModelConfig.__dataclass_fields__ else TrainConfig, name)


def presets_described() -> str:
    """'quick = 64 px face crops, batch 16; ...': what each training preset selects."""
    return "; ".join(f"{p} = {m.resolution} px {m.centering} crops, batch {t.batch_size}"
                     for p, (m, t) in ((p, preset(p)) for p in PRESETS))


def codec_by_suffix() -> str:
    """'.mp4/.m4v/.mkv h264, .mov prores, a folder png': the codec convert picks from OUTPUT's suffix."""
    by_codec: dict[str, list[str]] = {}
    for suffix, codec in defaults.OUTPUT_CODEC_BY_SUFFIX.items():
        by_codec.setdefault(codec, []).append(suffix or "a folder")
    return ", ".join(f"{'/'.join(suffixes)} {codec}" for codec, suffixes in by_codec.items())


