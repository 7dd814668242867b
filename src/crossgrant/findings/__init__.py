"""One findings model (code, severity, message, fix, location) and its writers.

Lint, verify, analyze and diff report in this shape; `crossgrant.findings.writers` turns
findings into text, JSON and SARIF 2.1.0. Stdlib only (and `crossgrant.serial`).
"""

from crossgrant.findings.model import Finding, Location, Rule, Severity

__all__ = ["Finding", "Location", "Rule", "Severity"]
