"""Grant -> every policy document for both accounts, exported and applied in memory."""

from crossgrant.render.artifacts import (
    Artifacts,
    PolicyStatements,
    Requirement,
    ResourceKind,
    RoleArtifact,
)
from crossgrant.render.documents import render

__all__ = ["Artifacts", "PolicyStatements", "Requirement", "ResourceKind", "RoleArtifact",
           "render"]
