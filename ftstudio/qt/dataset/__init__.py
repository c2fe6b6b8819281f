"""The dataset studio: the open document, its table, editor, panels and background workers."""
