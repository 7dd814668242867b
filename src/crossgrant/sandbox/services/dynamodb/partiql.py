"""Which table a DynamoDB PartiQL statement reads or writes, read the way DynamoDB reads it:
only the four plain statement forms are understood, anything else is refused by the
mapper (never authorized on a guess)."""

from __future__ import annotations

import re

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")  # a table or index name
_TOKEN = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[A-Za-z0-9_]+|\S')


def parse_partiql(statement: str) -> tuple[str, str, str | None, bool] | None:
    """(verb, table, index, has WHERE) of a DynamoDB PartiQL statement, or None when the
    statement is not one of the four plain forms:

        SELECT ... FROM table[.index] [WHERE ...]
        INSERT INTO table VALUE ...
        UPDATE table SET|REMOVE ... [WHERE ...]
        DELETE FROM table WHERE ...
    """
    tokens = _TOKEN.findall(statement)
    if not tokens:
        return None
    verb = tokens[0].upper()
    if verb == "SELECT":
        start = _top_level_index(tokens, "FROM")
        if start is None:
            return None
        table, index, rest = _table_ref(tokens, start + 1)
        if table is None or (rest < len(tokens) and tokens[rest].upper() != "WHERE"):
            return None
        return "Select", table, index, rest < len(tokens)
    if verb in {"INSERT", "DELETE"}:
        keyword = "INTO" if verb == "INSERT" else "FROM"
        if len(tokens) < 3 or tokens[1].upper() != keyword:
            return None
        table, index, rest = _table_ref(tokens, 2)
        follows = "VALUE" if verb == "INSERT" else "WHERE"
        if table is None or index is not None or rest >= len(tokens) \
                or tokens[rest].upper() != follows:
            return None
        return verb.capitalize(), table, None, verb == "DELETE"
    if verb == "UPDATE":
        table, index, rest = _table_ref(tokens, 1)
        if table is None or index is not None or rest >= len(tokens) \
                or tokens[rest].upper() not in {"SET", "REMOVE"}:
            return None
        return "Update", table, None, _top_level_index(tokens, "WHERE") is not None
    return None


def _top_level_index(tokens: list[str], keyword: str) -> int | None:
    depth = 0
    for i, token in enumerate(tokens):
        if token in {"(", "[", "{"}:
            depth += 1
        elif token in {")", "]", "}"}:
            depth -= 1
        elif depth == 0 and token.upper() == keyword:
            return i
    return None


def _table_ref(tokens: list[str], at: int) -> tuple[str | None, str | None, int]:
    table = _identifier(tokens[at]) if at < len(tokens) else None
    if table is None:
        return None, None, at
    if at + 2 < len(tokens) and tokens[at + 1] == ".":
        index = _identifier(tokens[at + 2])
        return (table, index, at + 3) if index is not None else (None, None, at)
    return table, None, at + 1


def _identifier(token: str) -> str | None:
    if token.startswith('"'):
        name = token[1:-1].replace('""', '"')
    elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", token):
        name = token
    else:
        return None
    return name if NAME.match(name) else None
