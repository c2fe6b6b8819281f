"""Dialogs: new project, settings, about."""
