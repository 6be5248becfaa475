"""Errors raised by the emulator."""


class EmulatorError(Exception):
    """Root of the emulator's errors."""


class InvalidInput(EmulatorError, ValueError):
    """An argument is out of range, of the wrong shape or of the wrong type.

    The message names the field, the index, the value and what is allowed.
    """

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
