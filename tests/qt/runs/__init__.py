"""Tests of the Runs page."""
