"""The world model: accounts, their principals, resources and policies, and `authorize`.

`AccountState` is what a snapshot of live accounts, the sandbox and the renderer's
in-memory apply all produce, so every feature asks the same question of the same model:
`authorize(state, request)`. Every policy document has a `DocAddress`, and the edits
(`put`, `merge_by_sid`, `remove`) are the one way features change a state.

The package exports what its modules export (their `__all__`), as asyncio does, so a
name is declared once, where it is defined.
"""

from crossgrant.world import address as _address
from crossgrant.world import authorize as _authorize
from crossgrant.world import serialize as _serialize
from crossgrant.world import state as _state
from crossgrant.world.address import *  # noqa: F403
from crossgrant.world.authorize import *  # noqa: F403
from crossgrant.world.serialize import *  # noqa: F403
from crossgrant.world.state import *  # noqa: F403

__all__: list[str] = []
__all__ += _address.__all__
__all__ += _authorize.__all__
__all__ += _serialize.__all__
__all__ += _state.__all__
