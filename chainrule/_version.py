"""The single source of truth for chainrule's version."""

__version__ = "0.1.0"
