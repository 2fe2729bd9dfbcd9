"""Bridges between Corral and other frameworks. Public as `corral.libs`.

Each bridge is a module of its own and imports its framework only when it
is imported itself, so none of those frameworks is needed to run Corral.
"""
