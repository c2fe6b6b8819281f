"""The training-plan wizard's parts: the planner, the steps, the memory bar, GPU detection.

:class:`ftstudio.qt.pages.wizard.PlanWizardPage` puts them together.
"""
