"""One exception family, so the CLI can tell a user's mistake (exit 2) from a bug (exit 1).

Every message names the place at fault: the file and line, or the document and statement.
"""


class CrossgrantError(Exception):
    """A problem with what the user handed us; its message is shown as one line."""


class PolicyError(CrossgrantError):
    """A policy document that AWS would reject, or that we cannot evaluate safely."""


class UnknownActionError(PolicyError):
    """An action name that no known service defines."""


class ArnError(CrossgrantError):
    """A string that should be an ARN (or account id) and is not."""


class CaseError(CrossgrantError):
    """An evaluation case that does not follow the case format."""


class StateError(CrossgrantError):
    """An AccountState document that is malformed or inconsistent."""


class RenderError(CrossgrantError):
    """A grant that cannot be rendered into documents AWS would accept."""


class SpecError(CrossgrantError):
    """A grant file (`grant.yaml`) that is malformed or describes an impossible grant.

    The message is one line, `FILE:LINE: FIELD: problem`; the parts are also kept as
    attributes so editors and tests need not parse it back.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.field = field
