"""Writing an export to disk, all or nothing.

A half-written export is worse than none: a CloudFormation directory with the source
template but not the target one deploys a role nobody can use, and a Terraform directory
mixing two renders plans nonsense. So everything is rendered first, written into a
temporary directory beside the destination, and moved into place with renames.

An existing non-empty directory is replaced only if a previous export made it (it holds
the marker file) or the caller says `force`: `--out` pointed at the wrong directory must
not delete someone's work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path, PurePosixPath

from crossgrant.errors import RenderError
from crossgrant.iam.arn import bucket_arn
from crossgrant.render.artifacts import Artifacts, PolicyStatements, ResourceKind
from crossgrant.render.cloudformation import to_cloudformation
from crossgrant.render.jsonfiles import STACKSET_DIR, generator, side_accounts, to_json_files
from crossgrant.render.rollout import rollout
from crossgrant.render.terraform import to_terraform

Exporter = Callable[[Artifacts, Collection[str]], dict[str, str]]

FORMATS: dict[str, Exporter] = {
    "cloudformation": to_cloudformation,
    "terraform": to_terraform,
    "json": to_json_files,
}

MARKER = ".crossgrant-export"


def render_files(artifacts: Artifacts, fmt: str,
                 owned: Collection[str] = ()) -> dict[str, str]:
    """The export as file name -> text, without touching the disk."""
    try:
        exporter = FORMATS[fmt]
    except KeyError:
        raise RenderError(f"unknown export format {fmt!r}; choose one of "
                          f"{', '.join(FORMATS)}") from None
    files = exporter(artifacts, resolve_owned(artifacts, owned))
    for name in files:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or name == MARKER:
            raise RenderError(f"export {fmt}: refusing to write file name {name!r}")
    return files


def deploy_steps(artifacts: Artifacts, fmt: str, files: Sequence[str]) -> list[str]:
    """What to run, in order, with these files; the order itself comes from the artifacts
    (the CLI's listing). With many source accounts the source step is the StackSet."""
    accounts = side_accounts(artifacts)
    plan = rollout(artifacts)
    if fmt == "terraform":
        who = (f"both accounts ({accounts['source']}, {accounts['target']})" if plan is None
               else f"the StackSet administrator and the target account {accounts['target']}")
        return [f"terraform apply once, with credentials for {who}; references between the "
                f"resources keep the {' then '.join(artifacts.deploy_order)} order"]
    steps = []
    for side in artifacts.deploy_order:
        account = accounts[side]
        if side == "source" and plan is not None:
            mine = [f for f in files if f.startswith(("source-stackset", f"{STACKSET_DIR}/"))]
            steps.append(f"source: {', '.join(mine)} from the StackSet administrator, for "
                         f"{plan.targets}")
            continue
        mine = [f for f in files if re.search(rf"(^|[-/]){account}([./]|$)", f)]
        if fmt == "json":
            what = f"the {len(mine)} files under {account}/" if mine else "nothing"
        else:
            what = ", ".join(mine) if mine else "nothing"
        step = f"{side} account {account}: {what}"
        if fmt == "cloudformation" and side == "target" and plan is None:
            step += " (SourceExecutionRoleArn = the source stack's ExecutionRoleArn output)"
        steps.append(step)
    return steps


def resolve_owned(artifacts: Artifacts, names: Collection[str]) -> frozenset[str]:
    """User-facing names (bucket name, table name or ARN, key ARN or id) -> the resources
    whose whole policy the export owns, as `PolicyStatements.resource`."""
    owned: set[str] = set()
    for name in names:
        matches = {ps.resource for ps in artifacts.resource_policies
                   if name == ps.resource or name in _short_names(artifacts, ps)}
        if not matches:
            known = ", ".join(sorted(
                n for ps in artifacts.resource_policies
                for n in _short_names(artifacts, ps) | {ps.resource}))
            raise RenderError(f"{artifacts.grant.path}: --own-policy {name!r} names no "
                              f"resource policy of grant {artifacts.grant.name!r}"
                              + (f" (it has: {known})" if known else " (it has none)"))
        owned |= matches
    return frozenset(owned)


def _short_names(artifacts: Artifacts, ps: PolicyStatements) -> set[str]:
    if ps.kind is ResourceKind.BUCKET:
        return {bucket_arn(ps.resource, artifacts.grant.partition)}
    if ps.kind is ResourceKind.TABLE:
        return {ps.resource.split(":table/", 1)[-1]}
    if ps.kind is ResourceKind.KEY:
        return {ps.resource.rsplit("/", 1)[-1]}
    return set()


def write_export(artifacts: Artifacts, fmt: str, out_dir: Path, *, force: bool = False,
                 owned: Collection[str] = ()) -> list[Path]:
    """Render `fmt` into `out_dir`, replacing it whole; returns the files written.

    On any error nothing changes: the previous contents of `out_dir` (if any) stay, and
    the temporary directory is removed.
    """
    files = render_files(artifacts, fmt, owned)
    out_dir = Path(out_dir)
    _check_destination(out_dir, force)
    parent = out_dir.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise RenderError(f"{out_dir}: cannot create a directory beside it: "
                          f"{exc.strerror or exc}") from None
    try:
        for name, text in sorted(files.items()):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (staging / MARKER).write_text(json.dumps(
            {"generator": generator(), "grant": artifacts.grant.name, "format": fmt,
             "files": sorted(files)}, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it 0700; an export is meant to be shared
        _swap_into_place(staging, out_dir)
    except OSError as exc:
        raise RenderError(f"{out_dir}: cannot write the export: {exc.strerror or exc}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in sorted(files)]


def _check_destination(out_dir: Path, force: bool) -> None:
    if out_dir.is_symlink():
        raise RenderError(f"{out_dir}: is a symbolic link; give the real directory")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise RenderError(f"{out_dir}: exists and is not a directory")
    resolved = out_dir.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve():
        raise RenderError(f"{out_dir}: refusing to replace the current directory, one of its "
                          f"parents or the home directory; choose a directory of its own")
    if any(out_dir.iterdir()) and not (out_dir / MARKER).is_file() and not force:
        raise RenderError(f"{out_dir}: not empty and not made by crossgrant render; "
                          f"pass --force to replace its contents")


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Rename `staging` to `out_dir`. An existing `out_dir` is first renamed aside and only
    deleted once the new one is in place, or renamed back if that fails."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old",
                                  dir=out_dir.absolute().parent))
    aside.rmdir()
    os.rename(out_dir, aside)
    try:
        os.rename(staging, out_dir)
    except OSError:
        os.rename(aside, out_dir)
        raise
    shutil.rmtree(aside, ignore_errors=True)
