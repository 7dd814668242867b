"""Checks that a grant does what it says: lint rules with stable codes (`verify.lint`).

AWS accepts many policies that grant nothing, or far more than meant; these checks find
them before an AccessDenied (or an audit) does.
"""
