"""treestore: the Python client of treestore_fdw (CONTRACT.md section 5).

    from treestore import TreeStoreClient

    with TreeStoreClient("host=/tmp port=5432 dbname=app") as ts:
        ts.store_document("POL-1", "v1", tree, effective_from="2025-01-01")
        for node in ts.get_subtree("POL-1", "0003"):
            print(node.depth, node.title)

``AsyncTreeStoreClient`` has the same methods as coroutines;
``treestore.compat.ReasoningServiceClient`` serves the reasoning-service's
tool-layer protocol; ``python -m treestore`` is a small command line.
"""

from .aio import AsyncTreeStoreClient
from .client import TreeStoreClient
from .errors import (
    Conflict,
    InvalidDocument,
    NotFound,
    PermissionDenied,
    PoolTimeout,
    TreeStoreError,
    Unavailable,
)
from .models import (
    CrossReference,
    Document,
    Node,
    Prompt,
    SearchHit,
    ToolResult,
    TrajectoryStep,
    Version,
)

# The extension's version (treestore_fdw.control, default_version).
__version__ = "1.0"

__all__ = [
    "AsyncTreeStoreClient",
    "Conflict",
    "CrossReference",
    "Document",
    "InvalidDocument",
    "Node",
    "NotFound",
    "PermissionDenied",
    "PoolTimeout",
    "Prompt",
    "SearchHit",
    "ToolResult",
    "TrajectoryStep",
    "TreeStoreClient",
    "TreeStoreError",
    "Unavailable",
    "Version",
    "__version__",
]
