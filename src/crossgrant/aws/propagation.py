"""IAM's eventual consistency, and sessions of the execution role.

Right after deploy, IAM may not yet let the execution role assume the target role; apply
retries `sts:AssumeRole` as the execution role until it works, where the caller may become
that role at all (decided offline from the role's trust policy by crossgrant's engine).
`probe` uses the same way to act as the function.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from crossgrant.aws.clients import (
    Accounts,
    AccountSession,
    AwsError,
    answer,
    error_code,
    is_access_denied,
    retry,
)
from crossgrant.aws.policies import Timing
from crossgrant.aws.roles import read_role
from crossgrant.errors import CrossgrantError
from crossgrant.iam import PolicySet, PolicyType, Request, evaluate, parse_policy, parse_principal
from crossgrant.iam.arn import assumed_role_arn
from crossgrant.render.artifacts import Artifacts

SESSION_NAME = "crossgrant-deploy"

_ALLOW_ALL = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def trust_allows(trust: dict[str, Any] | None, caller_arn: str, role_arn: str) -> bool:
    """Would this trust policy let `caller_arn` assume `role_arn` (its own identity
    policies assumed to allow)? Decided offline by crossgrant's engine."""
    if trust is None:
        return False
    try:
        policy = parse_policy(trust, name=f"trust policy of {role_arn}",
                              policy_type=PolicyType.RESOURCE)
        identity = parse_policy(_ALLOW_ALL, name="the caller's identity policies")
        principal = parse_principal(caller_arn)
    except CrossgrantError:
        return False
    request = Request.build(principal, "sts:AssumeRole", role_arn,
                            resource_account=role_arn.split(":")[4])
    return evaluate(request, PolicySet(identity=(identity,), resource=policy)).allowed


def execution_session(artifacts: Artifacts, accounts: Accounts, timing: Timing,
                      session_name: str) -> tuple[AccountSession | None, str]:
    """A session of the execution role, if the source credentials are it or may assume
    it; otherwise None and why not."""
    grant = artifacts.grant
    exec_arn = grant.execution_role_arn
    caller = accounts.source.identity()
    prefix = assumed_role_arn(grant.source.account, grant.source.execution_role, "")
    if caller.arn.startswith(prefix):
        return accounts.source, f"running as {caller.arn}"
    art = next(r for r in artifacts.roles if r.arn == exec_arn)
    live = read_role(accounts.source, art)
    if not trust_allows(live.trust, caller.arn, exec_arn):
        return None, f"{caller.arn} may not assume {exec_arn}: its trust policy does not " \
                     f"allow it"
    session = retry(lambda: accounts.source.assume(exec_arn, session_name=session_name),
                    retry_on=is_access_denied, timeout=timing.timeout, sleep=timing.sleep,
                    clock=timing.clock)
    return session, f"assumed {exec_arn}"


def wait_for_iam(artifacts: Artifacts, accounts: Accounts, timing: Timing) -> str:
    """Retry sts:AssumeRole of the target role as the execution role until IAM lets it.

    Only the execution role may assume the target role; if the caller may not become the
    execution role, the wait is skipped and says so."""
    grant = artifacts.grant
    target_arn = grant.target_role_arn
    assert target_arn is not None
    started = timing.clock()
    try:
        exec_session, how = execution_session(artifacts, accounts, timing, SESSION_NAME)
    except ClientError as exc:
        raise AwsError(f"IAM did not let the source credentials assume "
                       f"{grant.execution_role_arn} within {timing.timeout:.0f} s: "
                       f"{answer(exc)}", code=error_code(exc)) from None
    if exec_session is None:
        return f"skipped: {how}; `crossgrant probe` as the execution role checks it"
    try:
        retry(lambda: exec_session.assume(target_arn, session_name=SESSION_NAME,
                                          external_id=grant.target.external_id,
                                          source_identity=grant.source.function),
              retry_on=is_access_denied, timeout=timing.timeout, sleep=timing.sleep,
              clock=timing.clock)
    except ClientError as exc:
        raise AwsError(f"IAM did not let {grant.execution_role_arn} assume {target_arn} "
                       f"within {timing.timeout:.0f} s: {answer(exc)}",
                       code=error_code(exc)) from None
    return f"{grant.execution_role_arn} assumed {target_arn} after " \
           f"{timing.clock() - started:.1f} s ({how})"


__all__ = ["SESSION_NAME", "execution_session", "trust_allows", "wait_for_iam"]
