"""The rig's exceptions. One root, each subclassing the built-in that fits."""


class RigError(Exception):
    """Root of every error the rig raises on purpose."""


class InvalidValue(RigError, ValueError):
    """An input is out of range, NaN, of the wrong type or of the wrong shape.

    ``field`` names what was wrong (with its index where there is one); the
    message also gives the value and what is allowed.
    """

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class UnknownBackend(RigError, LookupError):
    """No backend is registered under that name."""


class Unsupported(RigError, NotImplementedError):
    """The backend cannot do this by design (it says so in ``info()``)."""


class BackendClosed(RigError, RuntimeError):
    """The backend was used after ``close()``."""


class UnknownExperiment(RigError, LookupError):
    """No experiment is registered under that name."""


class StoreError(RigError, RuntimeError):
    """The results store cannot do what was asked (the message says why)."""


class UnknownRun(StoreError, LookupError):
    """No run with that id is in the results store's index."""


class RunExists(StoreError, FileExistsError):
    """A run with that id is already stored; runs are never overwritten."""
