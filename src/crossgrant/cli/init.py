"""`crossgrant init`: write a commented starter `grant.yaml`.

The starter is a complete, loadable grant with placeholder accounts, so the first edit a
user makes is to a working file and every later error comes from their change.
"""

from __future__ import annotations

from pathlib import Path

import typer

from crossgrant.errors import CrossgrantError
from crossgrant.spec.load import parse_grant
from crossgrant.spec.model import Mode

_HEADER = """\
# grant.yaml: one cross-account grant for one Lambda function (format: docs/grants.md).
# A function in the source account reads/writes buckets and tables in the target account.

# Used in the names of what crossgrant creates and in policy Sids: a-z, 0-9, '-'.
name: my-grant

source:                          # where the function runs (account A)
  account: "111111111111"        # 12 digits; replace with your account id
  region: eu-west-1
  function: my-function          # the Lambda function's name (not its ARN)
  execution_role: my-function-exec   # its execution role's name; default: <function>-exec
  existing_role: false           # true: the role exists, crossgrant only adds a policy

target:                          # where the data lives (account B)
  account: "222222222222"        # 12 digits; must differ from source.account
  region: eu-west-1
"""

_ASSUME_ROLE = """
# assume-role: the function assumes a role in the target account that holds the
# permissions. (resource-policy: the bucket/table policies name the execution role.)
mode: assume-role

role:                            # the role crossgrant creates in the target account
  name: my-grant-target
  external_id: null              # optional shared secret the trust policy requires
  session_duration: 3600         # seconds, 900-3600 (role chaining caps it at one hour)
"""

_RESOURCE_POLICY = """
# resource-policy: the bucket/table policies in the target account name the function's
# execution role directly; no role is assumed. (assume-role: see docs/grants.md.)
mode: resource-policy
"""

_ACCESS = """
access:
  s3:
    - bucket: my-bucket          # the bucket's name in the target account
      prefixes: ["incoming/"]    # each ends with '/'; [""] (the default) = whole bucket
      levels: [read, list]       # any of: read, list, write, delete
      kms_key: null              # the bucket's SSE-KMS key ARN, if it uses one
  dynamodb:
    - table: my-table
      levels: [read, write]      # any of: read, write
      indexes: []                # index names to Query, or ["*"] for all of them
      streams: false             # true: also read the table's stream

options:
  tls_only: true                 # deny requests that do not use TLS
  organization_id: null          # e.g. o-a1b2c3d4e5: also require the caller's org
  trust_whole_account: false     # trust account A, narrowed to the execution role's ARN
  tags: {}                       # put on every resource crossgrant creates
"""


def starter(mode: Mode) -> str:
    """The starter text; a function so the test can check both modes load."""
    middle = _ASSUME_ROLE if mode is Mode.ASSUME_ROLE else _RESOURCE_POLICY
    return _HEADER + middle + _ACCESS


def write_starter(path: Path, mode: Mode, force: bool) -> Path:
    """Write the starter at `path` (a directory gets `grant.yaml` inside); never clobber a
    file unless `force`, and never write text that would not load."""
    if path.is_dir():
        path = path / "grant.yaml"
    text = starter(mode)
    parse_grant(text, str(path))  # a broken template must never reach the user's disk
    if not path.parent.is_dir():
        raise CrossgrantError(f"{path}: directory {path.parent} does not exist")
    try:
        with path.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise CrossgrantError(f"{path}: already exists; use --force to overwrite it") \
            from None
    except OSError as exc:
        raise CrossgrantError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_command(
        path: Path = typer.Argument(Path("grant.yaml"),
                                    help="File to write (a directory gets grant.yaml)."),
        mode: Mode = typer.Option(Mode.ASSUME_ROLE, "--mode",
                                  help="assume-role or resource-policy."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a commented starter grant.yaml to edit."""
        written = write_starter(path, mode, force)
        typer.echo(f"wrote {written} ({mode.value}); replace the accounts, function, "
                   f"bucket and table with yours")
