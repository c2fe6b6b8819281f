"""The studio's pages, one module each, in navigation order."""

from ftstudio.qt.pages.base import Page
from ftstudio.qt.pages.dataset import DatasetPage
from ftstudio.qt.pages.evaluate import EvaluatePage
from ftstudio.qt.pages.export import ExportPage
from ftstudio.qt.pages.guide import GuidePage
from ftstudio.qt.pages.runs import RunsPage
from ftstudio.qt.pages.train import TrainPage
from ftstudio.qt.pages.wizard import PlanWizardPage

NAVIGATION: tuple[type[Page], ...] = (
    GuidePage,
    DatasetPage,
    TrainPage,
    EvaluatePage,
    RunsPage,
    ExportPage,
)
"""Pages shown in the sidebar, in order; their ``key`` is used by the CLI and shortcuts."""

__all__ = [
    "NAVIGATION",
    "DatasetPage",
    "EvaluatePage",
    "ExportPage",
    "GuidePage",
    "Page",
    "PlanWizardPage",
    "RunsPage",
    "TrainPage",
]
