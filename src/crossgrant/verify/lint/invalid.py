"""CG100: a document the engine rejects (AWS would too), with a fix for each kind of error.

The engine words the error; lint only adds how to fix it. No other rule runs on such a
document, because the others read the statements the engine validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from crossgrant.findings import Severity
from crossgrant.verify.lint.document import Document, raw_statements
from crossgrant.verify.lint.registry import Hit, rule

_FIXES_FOR_PARSE_ERRORS: Final[tuple[tuple[str, str], ...]] = (
    ("invalid JSON", "fix the JSON syntax at that position (JSON allows no comments and no "
                     "trailing commas)"),
    ("nested too deeply", "flatten the document; a policy is at most a few levels deep"),
    ("must be a JSON object", "make the document an object with Version and Statement"),
    ("unknown top-level field", "remove the field: a policy document has only Version, Id "
                                "and Statement"),
    ("Version must be", 'set "Version": "2012-10-17"'),
    ("missing Statement", 'add a "Statement" list with at least one statement'),
    ("duplicate Sid", "give each statement its own Sid"),
    ("unknown field", "remove the field or correct its spelling (a statement has Sid, "
                      "Effect, Principal/NotPrincipal, Action/NotAction, "
                      "Resource/NotResource and Condition)"),
    ("Effect must be", 'set "Effect" to "Allow" or "Deny"'),
    ("has both", "keep only one of the two elements"),
    ("missing Action", 'add "Action" with the actions the statement is about'),
    ("missing Resource", 'add "Resource" with the ARNs the statement applies to '
                         '(identity policies need it)'),
    ("missing Principal", 'add "Principal" naming who the resource policy applies to'),
    ("cannot have Principal", "remove Principal, or lint the document as a resource or "
                              "trust policy (--kind resource / --kind trust)"),
    ("12-digit account id", "put the 12-digit account id where the ARN has its account"),
    ("wildcards are not allowed in a principal", 'use "Principal": {"AWS": "*"} with a '
                                                 'Condition on aws:PrincipalArn instead'),
    ("is not an action", "write actions as service:ActionName, e.g. s3:GetObject"),
    ("is not \"*\" or an ARN", 'write Resource as "*" or a full ARN '
                               '(arn:aws:service:region:account:resource)'),
    ("unknown condition operator", "use an operator from the IAM reference, e.g. "
                                   "StringEquals, ArnLike, Bool"),
    ("principal", "name principals as an account id, a user/role ARN, a service "
                  "(Service) or \"*\""),
)


def _parse_fix(message: str) -> str:
    for needle, fix in _FIXES_FOR_PARSE_ERRORS:
        if needle in message:
            return fix
    return "correct the element the message names: AWS rejects the whole document until then"


@rule("CG100", "invalid-document", Severity.ERROR,
      "The engine rejects the document (AWS would too); no other rule runs on it.")
def check_invalid(doc: Document) -> Iterator[Hit]:
    if doc.error is None:
        return
    message = str(doc.error)
    if message.startswith(f"{doc.name}: "):
        message = message[len(doc.name) + 2:]
    m = re.search(r"Statement\[(\d+)\]", message)
    index = label = None
    path = ""
    if m:
        index = int(m.group(1))
        raws = raw_statements(doc.raw)
        sid = raws[index].get("Sid") if index < len(raws) and isinstance(
            raws[index], Mapping) else None
        label = sid if isinstance(sid, str) and sid else f"#{index}"
        single = isinstance(doc.raw.get("Statement"), Mapping)
        path = "" if doc.bare else "Statement" if single else f"Statement[{index}]"
    yield Hit(index, label, path, message, _parse_fix(message))
