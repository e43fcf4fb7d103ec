"""workbook: a notebook-driven, executed data design for the template/pattern system."""

__version__ = "0.1.0"
