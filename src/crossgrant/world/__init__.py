"""The world model: accounts, their principals, resources and policies, and `authorize`.

`AccountState` is what a snapshot of live accounts, the sandbox and the renderer's
in-memory apply all produce, so every feature asks the same question of the same model:
`authorize(state, request)`. Every policy document has a `DocAddress`, and the edits
(`put`, `merge_by_sid`, `remove`) are the one way features change a state.
"""

from crossgrant.world.address import (
    DocAddress,
    DocKind,
    address_of,
    documents,
    get,
    merge_by_sid,
    put,
    remove,
)
from crossgrant.world.authorize import Collected, UnknownDecision, authorize, collect
from crossgrant.world.serialize import dump_state, load_state
from crossgrant.world.state import (
    Account,
    AccountState,
    Bucket,
    Encryption,
    EncryptionType,
    FrozenMap,
    Key,
    ManagedPolicy,
    ObjectOwnership,
    OrgAccount,
    Organization,
    OrgUnit,
    PolicyDoc,
    PublicAccessBlock,
    Role,
    Table,
    UnknownPolicy,
    User,
)

__all__ = [
    "Account",
    "AccountState",
    "Bucket",
    "Collected",
    "DocAddress",
    "DocKind",
    "Encryption",
    "EncryptionType",
    "FrozenMap",
    "Key",
    "ManagedPolicy",
    "ObjectOwnership",
    "OrgAccount",
    "OrgUnit",
    "Organization",
    "PolicyDoc",
    "PublicAccessBlock",
    "Role",
    "Table",
    "UnknownDecision",
    "UnknownPolicy",
    "User",
    "address_of",
    "authorize",
    "collect",
    "documents",
    "dump_state",
    "get",
    "load_state",
    "merge_by_sid",
    "put",
    "remove",
]
