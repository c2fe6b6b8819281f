"""Tests of the Export page."""
