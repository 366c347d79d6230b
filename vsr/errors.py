"""Exceptions vsr raises on bad input; the CLI turns each into one line on stderr."""


class VsrError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class InputError(VsrError):
    """The input file is missing, unreadable, truncated or of an unsupported kind."""


class OutputError(VsrError):
    """The output cannot be written (exists without -y, unwritable directory, unknown format)."""


class WeightsError(VsrError):
    """Weights are missing, corrupt, or do not fit the requested model or scale."""


class ConfigError(VsrError):
    """An option or combination of options that cannot work."""


class ClusterError(VsrError):
    """A cluster run could not go on: Ray missing or unreachable, or a segment's worker lost again and again."""
