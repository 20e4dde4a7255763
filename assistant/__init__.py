"""assistant: cited answers from a news archive."""

__version__ = "0.1.0"
