"""Exception types of mlimpute.

Every problem with the user's input (a file, a column, a spec, an option) raises a
subclass of :class:`MlimputeError` whose message is one line naming the file and/or
column and what is wrong.  The CLI prints that line and exits with status 2.
"""


import contextlib


class MlimputeError(Exception):
    """Base class of all errors mlimpute reports to the user."""


class SpecError(MlimputeError):
    """The model specification is inconsistent or does not fit the data."""


class DataError(MlimputeError):
    """A data column cannot be used as the spec asks (type, missingness, level)."""


class FormatError(MlimputeError):
    """A file cannot be read or written in the requested format."""


class SamplingError(MlimputeError):
    """The sampler could not go on (a draw that is not a finite number), or its result
    is not a complete imputation; nothing is written."""


@contextlib.contextmanager
def about_file(path):
    """Prefix data errors raised inside the block with the file they concern."""
    try:
        yield
    except DataError as exc:
        text = str(exc)
        raise DataError(text if text.startswith("file '") else f"file '{path}': {text}") from None
