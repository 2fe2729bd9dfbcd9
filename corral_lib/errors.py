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
