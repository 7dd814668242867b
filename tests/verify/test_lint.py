"""`crossgrant lint`: each rule on a minimal bad document and its fix, the blog-post seeds,
text extraction, and the command's exit codes and output formats."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossgrant.cli.lint import register
from crossgrant.errors import CrossgrantError
from crossgrant.findings import Finding as SharedFinding
from crossgrant.findings import Location, Severity
from crossgrant.verify.lint import (
    RULES,
    Finding,
    Kind,
    NoPolicyError,
    infer_kind,
    lint_document,
    lint_file,
    lint_text,
    select_codes,
)

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent / "seeds"
V = "2012-10-17"
ROLE_A = "arn:aws:iam::111111111111:role/ThumbExec"
OWNER = "222222222222"
TLS_DENY = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def doc(*statements: dict[str, Any], version: str | None = V) -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return out


def allow(action: Any, resource: Any = None, **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action}
    if resource is not None:
        st["Resource"] = resource
    st.update(extra)
    return st


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def lint(document: Any, kind: Kind | None = None, owner: str | None = None) -> list[Finding]:
    return lint_document(document, name="d", kind=kind, owner_account=owner)


BIG_TRUST = doc(*[{"Sid": f"S{i}", "Effect": "Allow", "Principal": {"AWS": ROLE_A},
                   "Action": "sts:AssumeRole"} for i in range(30)])
SMALL_TRUST = doc(*BIG_TRUST["Statement"][:3])

# (code, bad document, kind, owner, corrected document): the rule fires on the first and
# the corrected one is clean of every rule.
RULE_CASES: list[tuple[str, Any, Kind | None, str | None, Any]] = [
    ("CG100", doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="A", Efect="x")), None, None,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="A"))),
    ("CG101", doc(allow("s3:GetObjekt", "arn:aws:s3:::b/*")), None, None,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))),
    ("CG102", doc(allow("s3:ListBucket", "arn:aws:s3:::b/*")), None, None,
     doc(allow("s3:ListBucket", "arn:aws:s3:::b"))),
    ("CG103", doc(allow("s3:Get*", "arn:aws:s3:::b/*")), None, None,
     doc(allow(["s3:GetObject", "s3:GetObjectVersion"], "arn:aws:s3:::b/*"))),
    ("CG104", doc(allow("dynamodb:GetItem", "*")), None, None,
     doc(allow("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:222222222222:table/T"))),
    ("CG105", doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                   "Action": "sts:AssumeRole"}), None, None,
     doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
          "Action": "sts:AssumeRole",
          "Condition": {"ArnEquals": {"aws:PrincipalArn": ROLE_A}}})),
    ("CG106", doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE_A})),
     None, OWNER,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE_A}), TLS_DENY)),
    ("CG107", doc(allow("s3:GetObject", "arn:aws:s3:::b/*", NotPrincipal={"AWS": ROLE_A}),
                  TLS_DENY), None, OWNER,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE_A}), TLS_DENY)),
    ("CG108", BIG_TRUST, None, None, SMALL_TRUST),
    ("CG109", doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b/*"}),
     None, None, doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))),
    ("CG110", doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*"), TLS_DENY), None,
     OWNER,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*",
               Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}),
         TLS_DENY)),
    ("CG111", doc(allow("s3:GetObject", "arn:aws:s3:::b/in/*"),
                  allow("s3:ListBucket", "arn:aws:s3:::b")), None, None,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/in/*"),
         allow("s3:ListBucket", "arn:aws:s3:::b",
               Condition={"StringLike": {"s3:prefix": ["in/*"]}}))),
    ("CG112", doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"),
                  version="2008-10-17"), None, None,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"))),
    ("CG114", doc(allow("s3:GetObject", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])), None, None,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))),
    ("CG115", doc(allow(["s3:GetObject", "s3:ListBucket"],
                        ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])), None, None,
     doc(allow("s3:ListBucket", "arn:aws:s3:::b"), allow("s3:GetObject", "arn:aws:s3:::b/*"))),
    ("CG116", doc(allow("dynamodb:GetItem", "arn:aws:dynamodb:region:AccountB:table/T")),
     None, None,
     doc(allow("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:222222222222:table/T"))),
]


def test_every_rule_has_a_case_and_a_summary() -> None:
    assert sorted(c for c, *_ in RULE_CASES) == sorted(RULES)
    for code, rule in RULES.items():
        assert re.fullmatch(r"CG1\d\d", code) and rule.code == code
        assert rule.summary and rule.name and rule.severity in ("error", "warning", "info")


@pytest.mark.parametrize(("code", "bad", "kind", "owner", "good"), RULE_CASES,
                         ids=[c[0] for c in RULE_CASES])
def test_rule_fires_on_bad_and_not_on_fixed(code: str, bad: Any, kind: Kind | None,
                                            owner: str | None, good: Any) -> None:
    found = lint(bad, kind, owner)
    assert code in codes(found), found
    hit = next(f for f in found if f.code == code)
    assert hit.fix and hit.message and hit.document == "d"
    assert lint(good, kind, owner) == []


def test_findings_name_statement_and_json_path() -> None:
    found = lint(doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="Reads"),
                     allow(["s3:GetObject", "s3:ListBucket"], "arn:aws:s3:::b/*")))
    assert [(f.code, f.statement, f.path) for f in found] == [
        ("CG102", "#1", "Statement[1].Action[1]")]
    single = lint({"Version": V, "Statement": allow("s3:ListBucket", "arn:aws:s3:::b/*")})
    assert [(f.code, f.path) for f in single] == [("CG102", "Statement.Action"),
                                                  ("CG114", "Statement.Resource")]
    bare = lint(allow("s3:ListBucket", ["arn:aws:s3:::b/*"]))
    assert [(f.statement, f.path) for f in bare] == [("#0", "Action"), ("#0", "Resource[0]")]


def test_invalid_document_uses_engine_message() -> None:
    (f,) = lint('{"Version": "2012-10-17", "Statement": [}')
    assert f.code == "CG100" and f.statement is None and "invalid JSON at line 1" in f.message
    (g,) = lint(doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="A", Foo=1)))
    assert g.statement == "A" and g.path == "Statement[0]" and "'Foo'" in g.message
    assert not g.message.startswith("d:")
    (h,) = lint([1])  # type: ignore[arg-type]
    assert h.code == "CG100" and "JSON object" in h.message
    principal = doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                     "Principal": {"AWS": "arn:aws:iam::ACCOUNT_A_ID:role/x"}})
    assert codes(lint(principal)) == ["CG100"]


def test_unknown_action_suggestions() -> None:
    found = lint(doc(allow(["s3:ListObjects", "dynamdb:GetItem", "s3:Gett*",
                            "ec2:DescribeInstances"], "*")))
    by_path = {f.path: f for f in found if f.code == "CG101"}
    assert "s3:ListBucket" in by_path["Statement[0].Action[0]"].fix
    assert "dynamodb:GetItem" in by_path["Statement[0].Action[1]"].fix
    assert "matches no s3 action" in by_path["Statement[0].Action[2]"].message
    assert "Statement[0].Action[3]" not in by_path  # a service the catalog does not cover


def test_resource_types_follow_catalog_patterns() -> None:
    good = [
        doc(allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                  "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/thumbs:*")),
        doc(allow(["dynamodb:Query", "dynamodb:GetItem"],
                  ["arn:aws:dynamodb:eu-west-1:222222222222:table/T",
                   "arn:aws:dynamodb:eu-west-1:222222222222:table/T/index/*"])),
        doc(allow("sts:AssumeRole", "arn:aws:iam::222222222222:role/team/ThumbX")),
        doc(allow("kms:Decrypt", "arn:aws:kms:eu-west-1:222222222222:key/1234abcd")),
        doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*")),
        doc(allow("s3:PutObject", "arn:aws:s3:::b-*/out/*")),
        doc(allow("s3:ListAllMyBuckets", "*")),
    ]
    for d in good:
        assert lint(d) == [], d
    (f,) = lint(doc(allow("s3:ListAllMyBuckets", "arn:aws:s3:::b")))[:1]
    assert f.code == "CG102" and "resource-level" in f.message
    wrong_service = codes(lint(doc(allow("s3:GetObject",
                                         "arn:aws:dynamodb:eu-west-1:1:table/T"))))
    assert "CG102" in wrong_service and "CG114" in wrong_service


def test_deny_that_applies_to_nothing_is_reported() -> None:
    found = lint(doc(allow("s3:GetObject", "arn:aws:s3:::b/*"),
                     {"Effect": "Deny", "Action": "s3:DeleteObject",
                      "Resource": "arn:aws:s3:::b"}))
    assert "CG102" in codes(found)
    assert "denies it on nothing" in next(f for f in found if f.code == "CG102").message


def test_trust_policy_narrowing() -> None:
    root = {"Effect": "Allow", "Principal": {"AWS": "111111111111"},
            "Action": "sts:AssumeRole"}
    assert codes(lint(doc(root))) == ["CG105"]
    with_ext = dict(root, Condition={"StringEquals": {"sts:ExternalId": "x"}})
    assert lint(doc(with_ext)) == []
    negated = dict(root, Condition={"StringNotEquals": {"aws:PrincipalArn": ROLE_A}})
    assert codes(lint(doc(negated))) == ["CG105"]
    deny_outside_org = {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
                        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}}}
    assert lint(doc(root, deny_outside_org)) == []
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}
    assert codes(lint(doc(everyone))) == ["CG105"]
    service = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
               "Action": "sts:AssumeRole"}
    assert lint(doc(service)) == []


def test_tls_deny_owner_and_coverage() -> None:
    grant = allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::b/*",
                  Principal={"AWS": ROLE_A})
    assert lint(doc(grant), owner="111111111111") == []  # same account
    (f,) = lint(doc(grant))  # owner unknown: the role is taken as another account
    assert f.code == "CG106" and "no owner account given" in f.message
    assert '"aws:SecureTransport": "false"' in f.fix and "arn:aws:s3:::b/*" in f.fix
    narrow = dict(TLS_DENY, Action="s3:GetObject", Resource="arn:aws:s3:::b/*")
    (g,) = lint(doc(grant, narrow), owner=OWNER)
    assert g.code == "CG106" and "s3:PutObject" in g.message
    bool_false = dict(TLS_DENY, Condition={"Bool": {"aws:SecureTransport": False}})
    assert lint(doc(grant, bool_false), owner=OWNER) == []


def test_public_principal_narrowed_by_condition_is_fine() -> None:
    vpce = allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": "*"},
                 Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    assert "CG110" not in codes(lint(doc(vpce, TLS_DENY), owner=OWNER))
    if_exists = allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*",
                      Condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}})
    assert "CG110" in codes(lint(doc(if_exists, TLS_DENY), owner=OWNER))


def test_size_limits_by_kind() -> None:
    statements = [allow("s3:GetObject", f"arn:aws:s3:::bucket-number-{i:04d}/*", Sid=f"S{i}")
                  for i in range(120)]
    managed_too_big = lint(doc(*statements[:70]))  # ~7,000 characters
    assert [(f.code, f.severity) for f in managed_too_big] == [("CG108", "warning")]
    assert "managed policy" in managed_too_big[0].message
    inline_too_big = lint(doc(*statements))  # ~12,000 characters
    assert [(f.code, f.severity) for f in inline_too_big] == [("CG108", "error")]
    assert codes(lint(doc(*statements[:55]), kind="scp")) == ["CG108"]
    assert lint(doc(*statements[:55])) == []
    spaced = json.dumps(doc(*statements[:55]), indent=8)  # whitespace does not count
    assert len(spaced) > 10240 and lint(spaced) == []


def test_wildcards_in_key_policies_delegating_to_the_owner() -> None:
    key_policy = doc({"Sid": "EnableIamPolicies", "Effect": "Allow",
                      "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
                      "Action": "kms:*", "Resource": "*"})
    assert lint(key_policy, owner=OWNER) == []
    assert codes(lint(key_policy, owner="111111111111")) == ["CG103"]


def test_infer_kind() -> None:
    assert infer_kind(doc(allow("s3:GetObject", "*"))) == "identity"
    assert infer_kind(doc(allow("s3:GetObject", "*", Principal="*"))) == "resource"
    assert infer_kind(doc({"Effect": "Allow", "Principal": {"AWS": ROLE_A},
                           "Action": ["sts:AssumeRole", "sts:TagSession"]})) == "trust"
    assert infer_kind({"Effect": "Allow", "Action": "s3:GetObject"}) == "identity"


def test_select_codes() -> None:
    assert select_codes() == frozenset(RULES)
    assert select_codes(["CG101"]) == {"CG101"}
    assert select_codes(["cg11"]) == {c for c in RULES if c.startswith("CG11")}
    assert "CG103" not in select_codes(ignore=["CG103"])
    with pytest.raises(CrossgrantError, match="CG999"):
        select_codes(["CG999"])


# --------------------------------------------------------------------------- seeds

def seed(prefix: str) -> list[Finding]:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return lint_file(path)


def where(findings: list[Finding], code: str) -> list[tuple[str, str | None, str]]:
    return [(f.document, f.statement, f.path) for f in findings if f.code == code]


def test_seed_000_bucket_policy_and_mixed_statements() -> None:
    found = seed("000")
    assert codes(found) == ["CG115", "CG106", "CG115"]
    assert where(found, "CG106") == [("L50", None, "Statement")]
    identity, bucket = (f for f in found if f.code == "CG115")
    assert identity.document == "L31" and identity.path == ""  # a bare statement
    assert bucket.document == "L50" and bucket.path == "Statement[0]"
    assert "s3:ListBucket on arn:aws:s3:::my-bucket; s3:GetObject on " \
           "arn:aws:s3:::my-bucket/*" in bucket.fix
    tls = next(f for f in found if f.code == "CG106")
    assert "arn:aws:iam::<ACCOUNT_A_ID>:role/<LambdaExecutionRole>" in tls.message
    # The trust statement names one role: nothing to report there.
    assert "L65" not in {f.document for f in found}


def test_seed_001_bucket_policy_without_tls_deny() -> None:
    found = seed("001")
    assert where(found, "CG106") == [("L57", None, "Statement")]
    assert codes(found) == ["CG106"]
    assert "<ACCOUNT-A-ID>" in found[0].message


def test_seed_002_dynamodb_star() -> None:
    found = seed("002")
    assert where(found, "CG103") == [("L37", "#0", "Statement[0].Action")]
    assert codes(found) == ["CG103"]
    assert "'dynamodb:*' allows" in found[0].message
    # Linted as written, outside a blog post, its ARN placeholders are CG116.
    as_written = doc(allow("dynamodb:*", "arn:aws:dynamodb:region:AccountB:table/MyTable"))
    assert codes(lint(as_written)) == ["CG103", "CG116"]


def test_seed_003_bucket_arn_with_object_actions() -> None:
    found = seed("003")
    assert where(found, "CG114") == [("L79", "#0", "Resource[0]")]
    assert codes(found) == ["CG114"]
    assert "s3:ListBucket" in found[0].fix


def test_seed_004_unfenced_blocks() -> None:
    found = seed("004")
    assert codes(found) == ["CG106", "CG114"]
    assert {f.document for f in found} == {"L51"}
    assert where(found, "CG114") == [("L51", "#0", "Statement[0].Resource[0]")]


def test_every_seed_document_is_found() -> None:
    counts = {}
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        counts[path.name[:3]] = len(re.findall(r'"Effect"', text))
    # Each "Effect" in the seeds belongs to one policy (document or bare statement).
    assert counts == {"000": 3, "001": 2, "002": 2, "003": 3, "004": 3}
    for path in sorted(SEEDS.glob("*.txt")):
        assert all(f.code != "CG100" for f in lint_file(path)), path


# --------------------------------------------------------------------------- text input

def test_text_blocks_placeholders_and_lists() -> None:
    text = ("Trust:\n```json\n{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": "
            "\"Allow\", \"Principal\": {\"AWS\": <ACCOUNT_ID>}, \"Action\": "
            "\"sts:AssumeRole\"}]}\n```\nand some {braces} and a python {'a': 1} dict.\n")
    (f,) = lint_text(text)
    assert f.code == "CG105" and f.document == "L3" and "<ACCOUNT_ID>" in f.message
    listed = json.dumps([doc(allow("s3:GetObjekt", "arn:aws:s3:::b/*")),
                         doc(allow("s3:ListBucket", "arn:aws:s3:::b/*"))])
    assert [(f.document, f.code) for f in lint_text(listed)] == [
        ("[0]", "CG101"), ("[1]", "CG102"), ("[1]", "CG114")]
    assert [f.document for f in lint_text(json.dumps(doc(allow("s3:Get*", "*"))))] == [
        "policy", "policy"]


def test_region_and_account_fields_follow_aws_rules() -> None:
    # Region codes are the SDKs' partition regions (us-east-1, eu-central-2, cn-north-1,
    # us-gov-west-1...): https://docs.aws.amazon.com/general/latest/gr/rande.html. Account
    # ids are 12 ASCII digits: https://docs.aws.amazon.com/accounts/latest/reference/
    # manage-acct-identifiers.html
    def unmatchable(arn: str) -> list[str]:
        return [f.message for f in lint(doc(allow("dynamodb:GetItem", arn)))
                if f.code == "CG116"]
    for region in ("us-east-1", "eu-central-2", "cn-north-1", "us-gov-west-1", "*", ""):
        assert unmatchable(f"arn:aws:dynamodb:{region}:222222222222:table/T") == [], region
    (bad_region,) = unmatchable("arn:aws:dynamodb:xx-east-1:222222222222:table/T")
    assert "region 'xx-east-1' is not an AWS region code" in bad_region
    arabic = "\u0661" * 12  # twelve Arabic-Indic digits: not an account id
    (bad_account,) = unmatchable(f"arn:aws:dynamodb:us-east-1:{arabic}:table/T")
    assert f"account {arabic!r} is not a 12-digit" in bad_account


def test_region_placeholders_in_text_are_restored() -> None:
    text = ('Policy: {"Effect": "Allow", "Action": "s3:GetObject", '
            '"Resource": "arn:aws:dynamodb:<REGION>:<ACCOUNT_ID>:table/T"}')
    found = lint_text(text)
    assert codes(found) == ["CG102", "CG114"]  # no CG116: the placeholders stand in for both
    arn = "arn:aws:dynamodb:<REGION>:<ACCOUNT_ID>:table/T"
    assert all(arn in f.message for f in found) and arn in (found[1].fix or "")


def test_broken_json_fence_and_json_file(tmp_path: Path) -> None:
    text = ('```json\n{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",}]}\n'
            "```\n")
    (f,) = lint_text(text, source="post.md")
    assert f.code == "CG100" and f.document == "L2" and "invalid JSON" in f.message
    bad = tmp_path / "p.json"
    bad.write_text('{"Version": "2012-10-17", "Statement": [', encoding="utf-8")
    (g,) = lint_file(bad)
    assert g.code == "CG100" and g.document == "policy"
    # Issue 14 item 9: text with no policy is an error, not "All checks passed" (this
    # assertion used to be `== []`).
    with pytest.raises(NoPolicyError, match="no policy document found"):
        lint_text("no policies here {x}")


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(CrossgrantError, match="no such file"):
        lint_file(tmp_path / "missing.json")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CrossgrantError, match="cannot read"):
        lint_file(binary)


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer(add_completion=False)
    register(a)

    @a.callback()
    def _root() -> None:
        """Test app."""

    return a


def write(tmp_path: Path, name: str, document: Any) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return str(p)


def test_cli_exit_codes(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    clean = write(tmp_path, "clean.json", doc(allow("s3:GetObject", "arn:aws:s3:::b/*")))
    warn = write(tmp_path, "warn.json", doc(allow("s3:Get*", "arn:aws:s3:::b/*")))
    error = write(tmp_path, "error.json", doc(allow("s3:GetObjekt", "arn:aws:s3:::b/*")))
    r = runner.invoke(app, ["lint", clean])
    assert r.exit_code == 0 and r.stdout == "All checks passed.\n"
    r = runner.invoke(app, ["lint", warn])
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0].startswith(f"{warn}:policy:#0 CG103 warning 's3:Get*'")
    assert r.stdout.splitlines()[-1] == "1 finding (0 errors, 1 warning, 0 info)"
    r = runner.invoke(app, ["lint", clean, error])
    assert r.exit_code == 1 and "CG101 error" in r.stdout and "(fix: replace" in r.stdout
    r = runner.invoke(app, ["lint", error, str(tmp_path / "missing.json")])
    assert r.exit_code == 2
    assert "CG101" in r.stdout and "missing.json: no such file" in r.stderr
    r = runner.invoke(app, ["lint", "--owner-account", "12345", clean])
    assert r.exit_code == 2
    r = runner.invoke(app, ["lint", "--select", "CG999", clean])
    assert r.exit_code == 2


def test_cli_json_select_ignore(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    path = write(tmp_path, "b.json", doc(allow(["s3:GetObjekt", "s3:Put*"], "arn:aws:s3:::b/*",
                                               Principal={"AWS": ROLE_A})))
    r = runner.invoke(app, ["lint", "--json", "--owner-account", OWNER, path])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert [x["code"] for x in out] == ["CG106", "CG101", "CG103"]
    assert set(out[0]) == {"file", "code", "severity", "message", "fix", "document",
                           "statement", "path"}
    assert out[1]["path"] == "Statement[0].Action[0]" and out[1]["file"] == path
    r = runner.invoke(app, ["lint", "--json", "--select", "CG103,CG106", path])
    assert [x["code"] for x in json.loads(r.stdout)] == ["CG106", "CG103"]
    assert r.exit_code == 0  # the error was not selected
    r = runner.invoke(app, ["lint", "--json", "--ignore", "CG10", path])
    assert json.loads(r.stdout) == [] and r.exit_code == 0
    r = runner.invoke(app, ["lint", "--kind", "identity", path])
    assert r.exit_code == 1 and "cannot have Principal" in r.stdout


def test_cli_stdin_and_seeds(app: typer.Typer) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["lint", "-"], input=json.dumps(doc(allow("s3:*", "*"))))
    assert r.exit_code == 0 and "-:policy:#0 CG103" in r.stdout
    r = runner.invoke(app, ["lint", *sorted(str(p) for p in SEEDS.glob("*.txt"))])
    assert r.exit_code == 0  # the seeds' mistakes are warnings and info
    assert r.stdout.splitlines()[-1] == "8 findings (0 errors, 6 warnings, 2 info)"


def test_cli_sarif_places_findings_in_their_file(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", doc(allow(["s3:GetObjekt", "s3:Put*"], "arn:aws:s3:::b/*",
                                               Principal={"AWS": ROLE_A})))
    r = CliRunner().invoke(app, ["lint", "--format", "sarif", "--owner-account", OWNER, path])
    assert r.exit_code == 1
    log = json.loads(r.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [x["id"] for x in rules] == sorted(RULES)
    assert {x["id"]: x["defaultConfiguration"]["level"] for x in rules}["CG115"] == "note"
    assert [x["ruleId"] for x in run["results"]] == ["CG106", "CG101", "CG103"]
    unknown = run["results"][1]
    assert rules[unknown["ruleIndex"]]["id"] == "CG101" and unknown["level"] == "error"
    (where,) = unknown["locations"]
    assert where["physicalLocation"]["artifactLocation"]["uri"] == Path(path).as_uri()
    assert where["logicalLocations"][0]["name"] == "Statement[0].Action[0]"
    assert "(fix: replace 's3:GetObjekt'" in unknown["message"]["text"]
    r = CliRunner().invoke(app, ["lint", "--json", "--format", "sarif", path])
    assert r.exit_code == 2


def test_findings_are_the_shared_model() -> None:
    (f,) = lint(doc(allow("s3:Get*", "arn:aws:s3:::b/*", Sid="Reads")))
    assert isinstance(f, SharedFinding) and f.severity is Severity.WARNING
    assert f.location == Location(document="d", path="Statement[0].Action", statement="Reads")
    assert RULES["CG111"].severity is Severity.INFO and RULES["CG111"].help


def test_docs_list_every_code() -> None:
    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    for code, rule in RULES.items():
        assert f"### {code} {rule.name}" in text, code


def _doc_sections() -> list[tuple[str, str | None]]:
    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^### (CG\d+)[^\n]*\n(.*?)(?=^### |^## |\Z)", text,
                         re.MULTILINE | re.DOTALL):
        block = re.search(r"```json\n(.*?)```", m.group(2), re.DOTALL)
        out.append((m.group(1), block.group(1) if block else None))
    return out


@pytest.mark.parametrize(("code", "example"), _doc_sections(),
                         ids=[c for c, _ in _doc_sections()])
def test_docs_examples_trigger_their_rule(code: str, example: str | None) -> None:
    if code not in RULES:  # a reserved code
        assert example is None
        return
    if example is None:
        assert code == "CG108"  # too large to show; covered by test_size_limits_by_kind
        return
    assert code in codes(lint_text(example, source="example.json"))


def test_docs_console_example(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ crossgrant (.*?)\n(.*?)```", text, re.DOTALL)
    assert block is not None
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(app, block.group(1).split())
    assert r.stdout == block.group(2)
    assert r.exit_code == 1


# --------------------------------------------------------------------------- robustness

_KEYS = st.sampled_from(["Version", "Statement", "Effect", "Action", "NotAction", "Resource",
                         "NotResource", "Principal", "NotPrincipal", "Condition", "Sid",
                         "AWS", "Bool", "StringLike", "aws:SecureTransport", "s3:prefix"])
_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(),
    st.sampled_from(["Allow", "Deny", "*", "2012-10-17", "2008-10-17", "s3:GetObject",
                     "s3:*", "s3:ListBucket", "sts:AssumeRole", "arn:aws:s3:::b",
                     "arn:aws:s3:::b/*", "arn:aws:iam::111111111111:root", "111111111111",
                     "arn:aws:s3:::b/${aws:username}", "false", "<ACCOUNT_ID>", "s3:List*",
                     "arn:aws:dynamodb:us-east-1:111111111111:table/T", "kms:Decrypt"]),
    st.text(max_size=8))
_JSON = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.sampled_from([None, "identity", "resource", "trust", "boundary", "scp"]))
def test_lint_never_raises(value: Any, kind: Kind | None) -> None:
    for f in lint_document(value, name="d", kind=kind):
        assert f.code in RULES and f.fix
    text = json.dumps(value)
    try:
        assert isinstance(lint_text(f"prose {text} more {{ prose", kind=kind), list)
    except NoPolicyError:  # issue 14: prose with no policy in it is an error, not a crash
        assert not _policy_shaped(value)


def _policy_shaped(value: Any) -> bool:
    """Whether some object inside `value` has a Statement or an Effect key."""
    if isinstance(value, dict):
        return "Statement" in value or "Effect" in value or any(
            _policy_shaped(v) for v in value.values())
    return isinstance(value, list) and any(_policy_shaped(v) for v in value)


def test_policies_inside_other_json() -> None:
    template = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": doc({"Effect": "Allow", "Principal": {"AWS": "*"},
                                         "Action": "sts:AssumeRole"}),
        "Policies": [{"PolicyName": "p", "PolicyDocument": doc(allow("s3:*", "*"))}]}}}}
    found = lint_text(json.dumps(template, indent=2), source="template.json")
    assert [(f.document, f.code) for f in found] == [
        ("L6", "CG105"), ("L21", "CG103"), ("L21", "CG104")]
    (f,) = lint_text('{"name": "not a policy"}', source="x.json")
    assert f.code == "CG100" and f.document == "policy"


_ACTIONS = st.sampled_from(["s3:GetObject", "s3:ListBucket", "s3:List*", "s3:*", "*",
                            "s3:ListAllMyBuckets", "dynamodb:Query", "dynamodb:*",
                            "sts:AssumeRole", "kms:Decrypt", "logs:PutLogEvents",
                            "iam:PassRole", "s3:GetObjekt", "ec2:RunInstances", "s3:Gett*"])
_RESOURCES = st.sampled_from(["*", "arn:aws:s3:::b", "arn:aws:s3:::b/*", "arn:aws:s3:::b/in/*",
                              "arn:aws:s3:::b*", "arn:aws:dynamodb:us-east-1:111111111111:"
                              "table/T", "arn:aws:dynamodb:*:*:table/T/index/*",
                              "arn:aws:iam::*:role/x", "arn:aws:kms:eu-west-1:1:alias/a",
                              "arn:aws:logs:*:*:log-group:/aws/lambda/f:*",
                              "arn:aws:s3:::b/${aws:username}/*", "arn:aws:x:region:acct:y"])
_PRINCIPALS = st.sampled_from(["*", {"AWS": "*"}, {"AWS": "111111111111"},
                               {"AWS": ["arn:aws:iam::222222222222:root", ROLE_A]},
                               {"Service": "lambda.amazonaws.com"}])
_CONDITIONS = st.sampled_from([{"Bool": {"aws:SecureTransport": "false"}},
                               {"StringLike": {"s3:prefix": ["in/*"]}},
                               {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
                               {"StringNotEquals": {"sts:ExternalId": "x"}}])


@st.composite
def _statements(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"])),
                           draw(st.sampled_from(["Action", "NotAction"])):
                               draw(st.lists(_ACTIONS, min_size=1, max_size=3)),
                           draw(st.sampled_from(["Resource", "NotResource"])):
                               draw(st.lists(_RESOURCES, min_size=1, max_size=3))}
    if draw(st.booleans()):
        out[draw(st.sampled_from(["Principal", "NotPrincipal"]))] = draw(_PRINCIPALS)
    if draw(st.booleans()):
        out["Condition"] = draw(_CONDITIONS)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_statements(), min_size=1, max_size=4),
       st.sampled_from([None, "identity", "resource", "trust", "boundary", "scp"]),
       st.sampled_from([None, "111111111111"]), st.sampled_from(["2012-10-17", None]))
def test_lint_never_raises_on_valid_shapes(statements: list[dict[str, Any]],
                                           kind: Kind | None, owner: str | None,
                                           version: str | None) -> None:
    for f in lint(doc(*statements, version=version), kind, owner):
        assert f.code in RULES and f.fix and f.message


# --------------------------------------------------------------------------- issue 14

@pytest.mark.parametrize(("name", "content"), [
    ("empty.json", ""), ("notes.txt", "nothing to see here\n"), ("blank.md", "\n\n  \n"),
    ("grant.yaml", (ROOT / "examples" / "thumbnails.yaml").read_text(encoding="utf-8")),
    ("list.json", "[]")])
def test_cli_input_with_no_policy_is_an_error(app: typer.Typer, tmp_path: Path, name: str,
                                              content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    for fmt in ("text", "json", "sarif"):
        r = CliRunner().invoke(app, ["lint", "--format", fmt, str(path)])
        assert r.exit_code == 2, (fmt, r.output)
        assert f"{path}: no policy document found" in r.stderr
        assert "All checks passed" not in r.stdout
    r = CliRunner().invoke(app, ["lint", "-"], input=content)
    assert r.exit_code == 2 and "<stdin>: no policy document found" in r.stderr


def _sarif_lines(app: typer.Typer, path: Path) -> list[tuple[str, str, int]]:
    r = CliRunner().invoke(app, ["lint", "--format", "sarif", "--owner-account", OWNER,
                                 str(path)])
    assert r.exit_code in (0, 1), r.output
    out = []
    for result in json.loads(r.stdout)["runs"][0]["results"]:
        (loc,) = result["locations"]
        physical = loc["physicalLocation"]
        out.append((result["ruleId"], physical["artifactLocation"]["uri"],
                    physical["region"]["startLine"]))
    return out


def _statement_line(text: str, needle: str) -> int:
    """The line of the opening brace of the (flat) statement that holds `needle`."""
    return text[:text.rindex("{", 0, text.index(needle))].count("\n") + 1


def test_sarif_results_carry_the_line_of_their_statement(app: typer.Typer,
                                                         tmp_path: Path) -> None:
    # Code scanning (GitHub) needs physicalLocation.artifactLocation.uri and
    # region.startLine on every result to show it in the file:
    # https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="Fine"),
                 allow("s3:GetObjekt", "arn:aws:s3:::b/*", Sid="Typo"),
                 allow("s3:Put*", "arn:aws:s3:::b/*", Sid="Wide"))
    path = tmp_path / "p.json"
    text = json.dumps(policy, indent=2)
    path.write_text(text, encoding="utf-8")
    found = _sarif_lines(app, path)
    assert ("CG101", path.as_uri(), _statement_line(text, '"Sid": "Typo"')) in found
    assert ("CG103", path.as_uri(), _statement_line(text, '"Sid": "Wide"')) in found
    # A JSON list: each document's statements, in their own place.
    listed = tmp_path / "list.json"
    text = json.dumps([doc(allow("s3:GetObject", "arn:aws:s3:::b/*")), policy], indent=2)
    listed.write_text(text, encoding="utf-8")
    assert ("CG101", listed.as_uri(), _statement_line(text, '"Sid": "Typo"')) in \
        _sarif_lines(app, listed)
    # Markdown: the block's statements, counted from the file's first line.
    post = tmp_path / "post.md"
    text = ("# A post\n\nSome words.\n\n```json\n" + json.dumps(policy, indent=1)
            + "\n```\n")
    post.write_text(text, encoding="utf-8")
    assert ("CG103", post.as_uri(), _statement_line(text, '"Sid": "Wide"')) in \
        _sarif_lines(app, post)
    # Text and JSON output are unchanged: no line there (the document name holds it).
    r = CliRunner().invoke(app, ["lint", "--json", str(path)])
    assert all("line" not in f for f in json.loads(r.stdout))


def test_lines_are_only_added_when_asked() -> None:
    text = json.dumps(doc(allow("s3:GetObjekt", "arn:aws:s3:::b/*")), indent=2)
    assert all(f.line is None for f in lint_text(text))
    (f,) = lint_text(text, lines=True)
    assert f.line == 3 and f.code == "CG101"  # line 3: the statement's opening brace


# IAM stores identity policies whose action names it cannot read, since it checks only the
# vendor prefix; such a name matches no request ("Uncategorized actions" in the service
# summary: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_understand-service-summary.html).
# Lint names the spelling that was meant, and says a Deny holding it denies nothing.
@pytest.mark.parametrize(("action", "fix"), [
    ("s3:GetObject,PutObject", "'s3:GetObject', 's3:PutObject'"),
    ("s3:  GetBucketAcl", "'s3:GetBucketAcl'"),
    ("s3:GetObject ", "'s3:GetObject'"),
    ("s3:", "s3:*"),
])
def test_odd_action_spellings_are_explained(action: str, fix: str) -> None:
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": [action], "Resource": "*"}]}
    hits = [f for f in lint_document(doc, name="p.json", kind="identity") if f.code == "CG101"]
    assert len(hits) == 1
    assert "denies nothing" in hits[0].message
    assert fix in (hits[0].fix or "")
