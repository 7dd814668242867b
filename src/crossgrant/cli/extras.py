"""The optional parts of crossgrant, named where a command needs one.

`pip install crossgrant` brings what every command needs (Typer, Rich, PyYAML, pydantic,
boto3). The local sandbox needs moto (`crossgrant[sandbox]`) and the reference functions
need Pillow (`crossgrant[functions]`); a command that needs one checks for it before
anything else and says which extra to install, instead of failing deep inside with an
ImportError. Commands that only talk to a running sandbox (`sandbox env/down/audit`,
`plan/deploy/snapshot --sandbox`) need neither and never import them.
"""

from __future__ import annotations

import importlib.util

from crossgrant.errors import CrossgrantError

__all__ = ["EXTRAS", "MissingExtraError", "require"]

# extra: the module that tells it is installed
EXTRAS: dict[str, str] = {"sandbox": "moto", "functions": "PIL"}


class MissingExtraError(CrossgrantError):
    """A command that needs an optional dependency that is not installed."""


def require(command: str, *extras: str) -> None:
    """Raise `MissingExtraError` naming the pip command when an extra is missing."""
    missing = [e for e in extras if importlib.util.find_spec(EXTRAS[e]) is None]
    if missing:
        noun = "extra" if len(missing) == 1 else "extras"
        raise MissingExtraError(f"{command} needs the {' and '.join(missing)} {noun}: "
                                f"pip install 'crossgrant[{','.join(missing)}]'")
