"""Reusable widgets: cards, file tables, forms built from config dataclasses."""
