"""Error types. The CLI turns any `GendefError` into a one-line message and exit code 1 (2 for a usage
error: an `OptionError`, or a `ConfigError` that names one of the command's options in backticks)."""

from __future__ import annotations


class GendefError(Exception):
    """Base of every error caused by bad input or a broken artifact (never by a gendef bug)."""


class ConfigError(GendefError):
    """An option, preset or `--set` override is invalid (name the parameter in backticks: `` `frames` ``)."""


class OptionError(ConfigError):
    """A training setting (preset, `--set key=value`, a flag or a --config file) has an invalid value or name:
    a usage error."""


class ArtifactError(GendefError):
    """A clip, dataset or checkpoint directory is missing, malformed, truncated or too new."""


class DataError(GendefError):
    """Source media (videos, frame folders, images) cannot be read or is unusable."""


class TrainingError(GendefError):
    """Training cannot go on (e.g. a loss or the weights became NaN)."""
