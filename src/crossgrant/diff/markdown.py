"""A diff as a Markdown page for a pull-request comment, built from `crossgrant report`'s
parts: AFTER's Mermaid diagram with the arrows that grant something new highlighted, the
access table of those arrows, the arrows removed, then every new access.

Every name on the page (principals, resources, documents, condition values) comes from
the compared files, so it goes through `report.markdown`'s escaping (`code`, `plain`,
`cell`) and `report.mermaid`'s labels; a hostile name shows as itself.
"""

from __future__ import annotations

from crossgrant.diff.model import Access, DiffResult, Group, StatementLabel, Verdict
from crossgrant.diff.picture import Picture, granting, statement_key
from crossgrant.diff.principals import describe
from crossgrant.diff.report import actions_text, context_text, headline, ordered_actions, owner_text
from crossgrant.report import markdown as md
from crossgrant.report.mermaid import flowchart

__all__ = ["NO_PICTURE", "to_markdown"]

NO_PICTURE = ("Policy documents compared in isolation: there is no access graph to draw "
              "(diff grant files or states for the picture).")
MAX_ACTIONS = 8  # actions shown per access; --format json lists all
_SCOPES = {"grant": "The grant's documents in AFTER",
           "changed": "AFTER's documents that changed or hold a statement named below",
           "named": "The documents that hold a statement named below"}


def to_markdown(r: DiffResult, *, before: str = "BEFORE", after: str = "AFTER",
                picture: Picture | None = None, check: bool = False) -> str:
    """The page; `picture` None when there are no accounts to draw (bare documents)."""
    title = (f"# crossgrant check: {md.plain(r.compared)} {md.code(after)}" if check else
             f"# crossgrant diff: {md.plain(r.compared)}, {md.code(before)} → {md.code(after)}")
    verdict = headline(r, check=check)
    out = [f"{title}\n", f"**{md.plain(verdict[0].upper() + verdict[1:])}** "
                         f"(exit status {r.verdict.exit_code}).\n"]
    if picture is not None and r.verdict is Verdict.NEW_ACCESS:
        out.append(_access_path(picture, check))
    if picture is None and r.groups:
        out.append(f"{md.plain(NO_PICTURE)}\n")
    if r.groups:
        out.append(_accesses(r, picture, check))
    if picture is not None and picture.removed and picture.before is not None:
        out.append(_removed(picture))
    if r.unproven:
        out.append("## Cannot prove\n\n" + "".join(f"- {md.plain(why)}\n" for why in r.unproven))
    return "\n".join(out)


def _access_path(p: Picture, check: bool) -> str:
    marked = [e for e in p.after.edges if e.key in p.highlight.edges]
    what = "grant an access the check asks about" if check else "grant a new access"
    arrows = f"the arrow whose statements {what} is" if len(marked) == 1 else \
        f"the {len(marked)} arrows whose statements {what} are"
    out = ["## Access path" + ("" if check else " after the change") + "\n",
           f"{_SCOPES[p.scope]}, drawn as `crossgrant report` draws a grant's: {arrows} "
           f"highlighted (thick, orange)"
           + (", new principals and resources too" if p.highlight.nodes else "")
           + "; the table below lists the highlighted arrows, numbered as in the diagram.\n",
           md.fence(flowchart(p.after, p.highlight), "mermaid")]
    if marked:
        out.append(md.access_table(p.after, marked))
    else:
        out.append("No arrow drawn holds a granting statement: the statements named below "
                   "are in documents the picture leaves out.\n")
    if p.undrawn:
        out.append("Changed documents that only limit access (not drawn): "
                   + ", ".join(md.code(d) for d in p.undrawn) + ".\n")
    return "\n".join(out)


def _removed(p: Picture) -> str:
    assert p.before is not None
    return ("## Arrows removed\n\nBEFORE's arrows that AFTER no longer has (AFTER's picture "
            "cannot show them):\n\n" + md.access_table(p.before, p.removed, numbered=False))


def _accesses(r: DiffResult, p: Picture | None, check: bool) -> str:
    out = ["## Access granted\n" if check else "## New accesses\n",
           f"Every request {'allowed' if check else 'AFTER allows and BEFORE did not'}, "
           f"grouped by the statements that {'allow' if check else 'grant'} it "
           f"(`--format json` lists the same).\n"]
    for i, g in enumerate(r.groups, 1):
        out.append(_group(i, g, p, check))
    return "\n".join(out)


def _group(i: int, g: Group, p: Picture | None, check: bool) -> str:
    granted = "; ".join(_label(s) for s in g.granted_by) or \
        "no statement (what BEFORE denied, AFTER no longer denies)"
    head = f"**[{i}]** {'allowed' if check else 'granted in AFTER'} by {granted}"
    if p is not None:
        keys = granting(g.granted_by)
        arrows = [str(n) for n, e in enumerate(p.after.edges, 1)
                  if any(statement_key(s.document, s.path, s.name) in keys
                         for s in e.statements)]
        if arrows:
            head += f", drawn as arrow{'s' if len(arrows) > 1 else ''} ({'), ('.join(arrows)})"
    lines = [head + "."]
    if not check:
        stopped = "; ".join(_label(s) for s in g.stopped_by)
        lines.append(f"BEFORE: {md.plain(g.before)}" + (f" by {stopped}" if stopped else "")
                     + ".")
    headers = ["who", "may", "on", "owner", "when", "assuming"]
    rows = [_row(a) for a in g.accesses]
    keep = [j for j, h in enumerate(headers)  # no empty owner or assuming column
            if h not in ("owner", "assuming") or any(row[j] for row in rows)]
    return "<br>\n".join(lines) + "\n\n" + md.table(
        [headers[j] for j in keep], [[row[j] for j in keep] for row in rows])


def _row(a: Access) -> list[str]:
    who = describe(a.principal)
    when = context_text(a).removeprefix("when ")
    return [md.code(a.principal) + (f"<br>{md.plain(who)}" if who else ""),
            md.code(actions_text(ordered_actions(a), MAX_ACTIONS)), md.code(a.resource),
            md.plain(owner_text(a)), md.plain(when) or "any context",
            md.plain("; ".join(a.assuming))]


def _label(s: StatementLabel) -> str:
    path = f" ({md.code(s.path)})" if s.path else ""
    return f"{s.effect} {md.code(s.document)} statement {md.code(s.statement)}{path}"
