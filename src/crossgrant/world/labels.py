"""How a policy document is named: one wording everywhere, so explanations and diagnoses
agree.

`world.address.DocAddress.label` gives the label of any document by its kind; these are
for the places that compile a document where it is built (loaders, snapshots, the
sandbox). Each is the `format` of its wording, so the wording is all there is to read.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["bucket_policy_label", "inline_policy_label", "key_policy_label", "rcp_label",
           "scp_label", "stream_policy_label", "table_policy_label", "trust_policy_label"]

inline_policy_label: Callable[[str, str], str] = "{} inline policy '{}'".format  # owner ARN
trust_policy_label: Callable[[str], str] = "trust policy of {}".format  # role ARN
bucket_policy_label: Callable[[str], str] = "bucket policy of {}".format  # bucket name
table_policy_label: Callable[[str], str] = "table policy of {}".format  # table ARN
stream_policy_label: Callable[[str], str] = "stream policy of {}".format  # stream ARN
key_policy_label: Callable[[str], str] = "key policy of {}".format  # key ARN
scp_label: Callable[[str], str] = "SCP '{}'".format  # SCP name
rcp_label: Callable[[str], str] = "RCP '{}'".format  # RCP name
