"""The exceptions the framework raises for mistakes a user can fix."""


class CorralError(Exception):
    """A mistake the user can fix: printed as one line, exit status 1.

    The message names the thing at fault (setting, file, step, row) and says
    what to do. `returncode` is the program's exit status.
    """

    def __init__(self, message, returncode=1):
        super().__init__(message)
        self.returncode = returncode


class ImproperlyConfigured(CorralError):
    """The pipeline's settings or the project layout are wrong."""


class ProcessorError(CorralError):
    """A loader, step or alert did something the framework cannot accept."""


class DatabaseError(CorralError):
    """The pipeline's database cannot be opened or used."""


def one_line(exc: BaseException) -> str:
    """An exception as one line a user can read.

    Framework errors are already written for the user. Database driver
    errors carry the statement and a link over several lines; only the
    driver's first line of explanation is kept.
    """
    if isinstance(exc, CorralError):
        return str(exc)
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
