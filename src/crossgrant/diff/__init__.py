"""What a change newly allows, proven offline by a sound abstraction of the requests.

`diff_documents` and `diff_states` compare two policy documents or two account states
(grant files are applied to states first); `check_not_granted` asks whether anything
allows some actions. docs/diff.md states what the abstraction covers and when the answer
is "cannot prove" instead of "nothing new".
"""

from crossgrant.diff.inputs import Input, InputKind, guess_type, read_input
from crossgrant.diff.model import Access, DiffResult, Group, StatementLabel, Verdict
from crossgrant.diff.run import check_not_granted, diff_documents, diff_states, parse_document
from crossgrant.diff.sides import DocType

__all__ = [
    "Access",
    "DiffResult",
    "DocType",
    "Group",
    "Input",
    "InputKind",
    "StatementLabel",
    "Verdict",
    "check_not_granted",
    "diff_documents",
    "diff_states",
    "guess_type",
    "parse_document",
    "read_input",
]
