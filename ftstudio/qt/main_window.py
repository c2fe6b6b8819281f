"""The studio window: navigation between pages, the menus, help, the tour, the status bar."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, QUrl
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.project import (
    DATASET_SUFFIXES,
    MANIFEST,
    Project,
    ProjectError,
    open_project,
)
from ftstudio.core.sample import install_sample, sample_copy_dir
from ftstudio.core.settings import (
    THEMES,
    AppSettings,
    AppState,
    SettingsStore,
    apply_environment,
)
from ftstudio.qt.dialogs.about_dialog import AboutDialog
from ftstudio.qt.dialogs.help_browser import HelpBrowser, topic_for_page
from ftstudio.qt.dialogs.new_project import NewProjectDialog
from ftstudio.qt.dialogs.settings_dialog import SettingsDialog
from ftstudio.qt.dialogs.shortcuts import ShortcutsDialog
from ftstudio.qt.pages import NAVIGATION, DatasetPage, Page, PlanWizardPage, TrainPage
from ftstudio.qt.shortcuts import ShortcutEntry, collect_shortcuts
from ftstudio.qt.style import app_icon, nav_icon, theme_controller
from ftstudio.qt.tour import Tour
from ftstudio.qt.ui_state import save_remembered, ui_state
from ftstudio.qt.welcome import WelcomeView
from ftstudio.qt.widgets.messages import show_warning

DEFAULT_SIZE = QSize(1200, 780)
NAVIGATION_WIDTH = 190
"""The sidebar's width in logical pixels (at least)."""
THEME_LABELS = {"system": "&System", "light": "&Light", "dark": "&Dark"}


class MainWindow(QMainWindow):
    """ftstudio's main window.

    Args:
        store: where settings and the recent list are saved.
        remember: when false (screenshots, tests), nothing is written to the config dir.
    """

    def __init__(self, store: SettingsStore, *, remember: bool = True) -> None:
        super().__init__()
        self.store = store
        self.settings: AppSettings = store.load_settings()
        apply_environment(self.settings)  # the model cache and offline mode, before HF imports
        self.state: AppState = store.load_state()
        self.remember = remember
        self.project: Project | None = None
        self.last_message_box: QMessageBox | None = None
        self.help_browser: HelpBrowser | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.tour: Tour | None = None
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)

        self.pages: list[Page] = [page_class() for page_class in NAVIGATION]
        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setIconSize(QSize(20, 20))
        # 190 logical pixels, wider when large fonts need it (Qt scales for high DPI).
        longest = max(self.fontMetrics().horizontalAdvance(cls.title) for cls in NAVIGATION)
        self.navigation.setFixedWidth(max(NAVIGATION_WIDTH, longest + 90))
        self.page_stack = QStackedWidget()
        for index, page in enumerate(self.pages, start=1):
            item = QListWidgetItem(nav_icon(page.key), page.title)
            item.setToolTip(f"{page.summary}  (Ctrl+{index})")
            self.navigation.addItem(item)
            self.page_stack.addWidget(page)
        self.navigation.currentRowChanged.connect(self.page_stack.setCurrentIndex)
        self.studio = QWidget()
        studio_layout = QHBoxLayout(self.studio)
        studio_layout.setContentsMargins(0, 0, 0, 0)
        studio_layout.setSpacing(0)
        studio_layout.addWidget(self.navigation)
        studio_layout.addWidget(self.page_stack, 1)
        self.welcome = WelcomeView()
        self.welcome.sig_new_requested.connect(self.new_project)
        self.welcome.sig_open_requested.connect(self.choose_project)
        self.welcome.sig_sample_requested.connect(self.open_sample)
        self.welcome.sig_recent_requested.connect(self.open_project_at)
        self.central = QStackedWidget()
        self.central.addWidget(self.welcome)
        self.central.addWidget(self.studio)
        self.setCentralWidget(self.central)
        self.train_page.set_app_settings(self.settings)
        self.train_page.sig_plan_requested.connect(self.show_plan_wizard)
        self.train_page.sig_run_finished.connect(self._on_train_page_run_finished)
        self.page("runs").sig_rerun_requested.connect(self._on_runs_page_rerun_requested)
        for page in self.pages:  # the Evaluate page's example links
            reveal = getattr(page, "sig_reveal_example", None) if page.key == "evaluate" else None
            if reveal is not None:
                reveal.connect(self.reveal_example)
            page.sig_help_requested.connect(self.show_page_help)

        self._build_menus()
        self.project_label = QLabel()
        self.counts_label = QLabel()
        self.statusBar().addPermanentWidget(self.counts_label)
        self.statusBar().addPermanentWidget(self.project_label)
        self._restore_window_state()
        self._show_project(None)
        for problem in store.problems:
            self._warn("Settings were reset", problem)

    # ---- Public API
    @property
    def train_page(self) -> TrainPage:
        """The Train page."""
        page = self.page("train")
        assert isinstance(page, TrainPage)
        return page

    @property
    def dataset_page(self) -> DatasetPage:
        """The Dataset page."""
        page = self.page("dataset")
        assert isinstance(page, DatasetPage)
        return page

    def page(self, key: str) -> Page:
        """The page with ``key`` (``guide``, ``dataset``, ``train``, ``runs``, ``export``)."""
        for page in self.pages:
            if page.key == key:
                return page
        raise KeyError(f"No page {key!r}; pages are {', '.join(p.key for p in self.pages)}")

    def show_page(self, key: str) -> None:
        """Switch to the page with ``key``."""
        self.navigation.setCurrentRow(self.pages.index(self.page(key)))

    def current_page(self) -> Page:
        """The page on screen."""
        return self.pages[self.page_stack.currentIndex()]

    def reveal_example(self, path: Path, line: int) -> bool:
        """Show the example at ``line`` (1-based, physical) of the dataset file ``path`` in the
        Dataset page: the page is shown, the file opened if another one is (unsaved edits are
        saved or asked about first), the example selected, scrolled to and shown in the
        editor. Returns whether it was found (see :meth:`DatasetPage.reveal_line`)."""
        self.show_page("dataset")
        found = self.dataset_page.reveal_line(Path(path), int(line))
        if not found:
            said = self.dataset_page.status_label.text()
            message = said if said.startswith("No example") else ""
            self.statusBar().showMessage(
                message or f"Line {line} of {Path(path).name} was not shown.", 8000
            )
        return found

    def open_project_at(self, location: Path) -> bool:
        """Open the project in ``location``; on failure explain why and return ``False``."""
        try:
            project = open_project(Path(location))
        except ProjectError as error:
            if not Path(location).exists():
                self._update_state(self.state.without_recent(location))
            self._warn("Could not open the project", str(error))
            return False
        self.set_project(project)
        return True

    def set_project(self, project: Project | None) -> None:
        """Show ``project`` (``None`` closes it) and remember it in the recent list."""
        self._show_project(project)
        if project is not None:
            self._update_state(self.state.with_recent(project.folder, self.settings.max_recent))
            message = " ".join(project.warnings) or f"Opened {project.folder}"
            self.statusBar().showMessage(message, 8000)

    def open_sample(self) -> None:
        """Open the user's copy of the sample project, copying it first if needed."""
        try:
            project = install_sample()
        except (OSError, ProjectError) as error:
            self._warn("Could not open the sample project", str(error))
            return
        self._update_state(replace(self.state, sample_installed=True))
        self.set_project(project)

    def apply_settings(self, settings: AppSettings) -> None:
        """Use and save new preferences (a new theme is applied at once)."""
        theme_changed = settings.theme != self.settings.theme
        self.settings = settings
        apply_environment(settings)  # the model cache and offline mode, for what comes next
        self.train_page.set_app_settings(settings)
        if self.remember:
            self.store.save_settings(settings)
        self._update_state(
            replace(self.state, recent_projects=self.state.recent_projects[: settings.max_recent])
        )
        if theme_changed:
            theme_controller().set_choice(settings.theme)
        self._check_theme_action()

    def set_theme(self, choice: str) -> None:
        """Use the theme ``choice`` (``system``, ``light`` or ``dark``) and save it."""
        if choice not in THEMES:
            raise ValueError(f"Unknown theme {choice!r}; choose one of {', '.join(THEMES)}.")
        self.apply_settings(replace(self.settings, theme=choice))

    # ---- Help
    def show_help(self, topic: str = "") -> HelpBrowser:
        """Show the advice window (non-modal) at ``topic`` (a topic id; default: the
        topic of the page on screen)."""
        if self.help_browser is None:
            self.help_browser = HelpBrowser(self)
        browser = self.help_browser
        browser.show_topic(topic or self.context_topic())
        _bring_to_front(browser)
        return browser

    def show_page_help(self, page_key: str) -> HelpBrowser:
        """Show the advice for the page ``page_key`` (its "?" button)."""
        return self.show_help(topic_for_page(page_key))

    def context_topic(self) -> str:
        """The help topic for what is on screen: the page's, or the start topic."""
        if self.project is None:
            return topic_for_page("welcome")
        return topic_for_page(self.current_page().key)

    def shortcut_entries(self) -> list[ShortcutEntry]:
        """Every keyboard shortcut of the window: the menus', then each page's."""
        return collect_shortcuts(self, self.pages)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Show the keyboard-shortcut cheat sheet (non-modal), read from the window now."""
        if self.shortcuts_dialog is not None:
            self.shortcuts_dialog.close()
            self.shortcuts_dialog.deleteLater()
        dialog = ShortcutsDialog(self.shortcut_entries(), self)
        self.shortcuts_dialog = dialog
        _bring_to_front(dialog)
        return dialog

    # ---- Tour
    def start_tour(self) -> Tour | None:
        """Show the tour of the studio (the sample project is opened first when no project
        is open). Returns it, or ``None`` when no project could be opened."""
        if self.project is None:
            self.open_sample()
        if self.project is None:
            return None
        if self.tour is None:
            self.tour = Tour(self)
        self.tour.start()
        return self.tour

    def offer_first_run_tour(self) -> Tour | None:
        """Start the tour if it was never shown and the sample project is open (the first
        start); remembers that it was shown. Returns it when it started."""
        if self.state.tour_shown or self.project is None:
            return None
        if self.project.folder.resolve() != sample_copy_dir().resolve():
            return None
        self._update_state(replace(self.state, tour_shown=True))
        return self.start_tour()

    # ---- Actions (dialogs)
    def new_project(self) -> None:
        """Ask for a name and folder, create the project and open it."""
        dialog = NewProjectDialog(self.settings.effective_projects_dir(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.project is not None:
            self.set_project(dialog.project)

    def choose_project(self) -> None:
        """Ask for a project folder and open it."""
        start = str(self.project.folder.parent if self.project else Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a project folder", start)
        if folder:
            self.open_project_at(Path(folder))

    def edit_settings(self) -> None:
        """Show the Settings dialog and apply the result."""
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_settings(dialog.settings())

    def show_plan_wizard(self) -> None:
        """Open the training-plan wizard for the current project."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Plan a training run")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.resize(1120, 820)
        layout = QVBoxLayout(dialog)
        layout.setContentsMargins(0, 0, 12, 12)
        wizard = PlanWizardPage()
        wizard.set_gpu_budget(self.settings.gpu_memory_gb)
        wizard.set_project(self.project)
        wizard.sig_help_requested.connect(self.show_page_help)
        layout.addWidget(wizard)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        # The wizard's workers stop before the dialog (and the wizard) are deleted.
        dialog.finished.connect(wizard.shutdown)
        wizard.sig_saved.connect(
            lambda path: self.statusBar().showMessage(
                f"Training configuration saved: {path}", 10_000
            )
        )
        dialog.open()

    # ---- Qt events
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Ask before stopping a training run (it stops gracefully, then the window closes),
        save or ask about unsaved dataset edits, remember geometry and page, then close."""
        if not self.train_page.confirm_close(self):
            event.ignore()
            return
        if not self.page("export").confirm_close(self):
            event.ignore()
            return
        if not self.dataset_page.maybe_save():
            event.ignore()
            return
        if self.remember:
            save_remembered(self)
            state = ui_state()
            state.setValue("main/geometry", self.saveGeometry())
            state.setValue("main/windowState", self.saveState())
            state.setValue("main/page", self.current_page().key)
            state.sync()
        if self.tour is not None:
            self.tour.skip()
        for dialog in (self.help_browser, self.shortcuts_dialog):
            if dialog is not None:
                dialog.close()
        self.shutdown_pages()
        super().closeEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """Redraw the navigation icons for a new palette (light or dark theme)."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._update_navigation_icons()

    def shutdown_pages(self) -> None:
        """Stop every page's background work (training stops at a step, with a checkpoint)."""
        for page in self.pages:
            shutdown = getattr(page, "shutdown", None)
            if callable(shutdown):
                shutdown()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        """Accept a dragged project folder or ``project.json``, or a dataset file."""
        urls = event.mimeData().urls()
        if _dropped_project(urls) is not None or self._dropped_dataset(urls) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        """Open the dropped project, or open (import) the dropped dataset file."""
        urls = event.mimeData().urls()
        location = _dropped_project(urls)
        if location is not None:
            event.acceptProposedAction()
            self.open_project_at(location)
            return
        dataset = self._dropped_dataset(urls)
        if dataset is not None:
            event.acceptProposedAction()
            self.show_page("dataset")
            self.dataset_page.open_path(dataset)

    # ---- Internals
    def _build_menus(self) -> None:
        project_menu = self.menuBar().addMenu("&Project")
        self._add_action(
            project_menu, "&New Project…", self.new_project, QKeySequence.StandardKey.New
        )
        self._add_action(
            project_menu, "&Open Project…", self.choose_project, QKeySequence.StandardKey.Open
        )
        self.recent_menu = project_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._add_action(project_menu, "Open the &Sample Project", self.open_sample)
        project_menu.addSeparator()
        self.save_action = self._add_action(
            project_menu,
            "&Save Dataset",
            lambda: self.dataset_page.save(),
            QKeySequence.StandardKey.Save,
        )
        project_menu.addSeparator()
        self.reload_action = self._add_action(project_menu, "Re&load", self._reload, "F5")
        self.reload_action.setWhatsThis("Reload the project: every page reads its files again")
        self.reveal_action = self._add_action(
            project_menu, "Show in &File Manager", self._reveal_project, "Ctrl+Shift+O"
        )
        self.close_action = self._add_action(
            project_menu,
            "&Close Project",
            lambda: self.set_project(None),
            QKeySequence.StandardKey.Close,
        )
        project_menu.addSeparator()
        self._add_action(project_menu, "Se&ttings…", self.edit_settings, "Ctrl+,")
        project_menu.addSeparator()
        quit_action = self._add_action(project_menu, "&Quit", self.close)
        quit_action.setShortcuts(_keys(QKeySequence.StandardKey.Quit, "Ctrl+Q"))

        edit_menu = self.menuBar().addMenu("&Edit")
        undo_stack = self.dataset_page.document.undo_stack
        self.undo_action = undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.redo_action = undo_stack.createRedoAction(self, "&Redo")
        # Ctrl+Shift+Z as on Linux and macOS (Cmd), Ctrl+Y as on Windows, on every system.
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)

        view_menu = self.menuBar().addMenu("&View")
        self.page_actions = []
        for index, page in enumerate(self.pages, start=1):
            action = self._add_action(
                view_menu,
                page.title,
                lambda _checked=False, key=page.key: self.show_page(key),
                f"Ctrl+{index}",
            )
            action.setWhatsThis(f"Show the {page.title} page")
            self.page_actions.append(action)
        view_menu.addSeparator()
        self.plan_action = self._add_action(
            view_menu, "Plan a Training Run…", self.show_plan_wizard, "Ctrl+Shift+P"
        )
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for choice in THEMES:
            action = self._add_action(
                theme_menu,
                THEME_LABELS[choice],
                lambda _checked=False, name=choice: self.set_theme(name),
            )
            action.setCheckable(True)
            group.addAction(action)
            self.theme_actions[choice] = action
        self.theme_actions["system"].setToolTip("Follow the desktop's light or dark setting")
        self._check_theme_action()

        help_menu = self.help_menu = self.menuBar().addMenu("&Help")
        self.help_action = self._add_action(
            help_menu, "Fine-tuning &Advice", lambda: self.show_help(), "F1"
        )
        self.help_action.setWhatsThis("Advice on fine-tuning, opened at the page you are on")
        self.shortcuts_action = self._add_action(
            help_menu, "&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+/"
        )
        self.tour_action = self._add_action(help_menu, "Take the &Tour", self.start_tour)
        help_menu.addSeparator()
        self._add_action(help_menu, "&About ftstudio", lambda: AboutDialog(self).open())

    def _add_action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        shortcut: QKeySequence.StandardKey | str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _check_theme_action(self) -> None:
        action = self.theme_actions.get(self.settings.theme)
        if action is not None:
            action.setChecked(True)

    def _update_navigation_icons(self) -> None:
        for index, page in enumerate(getattr(self, "pages", ())):  # () while being built
            item = self.navigation.item(index)
            if item is not None:
                item.setIcon(nav_icon(page.key))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.state.recent_projects:
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _=False, path=entry: self.open_project_at(Path(path)))
            if not Path(entry).is_dir():
                action.setEnabled(False)
                action.setText(f"{entry} (missing)")
        if not self.state.recent_projects:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear Recent")
        clear.setEnabled(bool(self.state.recent_projects))
        clear.triggered.connect(lambda: self._update_state(replace(self.state, recent_projects=())))

    def _show_project(self, project: Project | None) -> None:
        self.project = project
        for page in self.pages:
            page.set_project(project)
        has_project = project is not None
        for action in (
            self.reload_action,
            self.reveal_action,
            self.save_action,
            self.close_action,
            self.plan_action,
            *self.page_actions,
        ):
            action.setEnabled(has_project)
        self.central.setCurrentWidget(self.studio if has_project else self.welcome)
        self.welcome.set_recent(list(self.state.recent_projects))
        if project is None:
            self.setWindowTitle("ftstudio")
            self.project_label.setText("No project open")
            self.counts_label.setText("")
            return
        self.setWindowTitle(f"{project.name} — ftstudio")
        self.project_label.setText(f"{project.name}  ·  {project.folder}")
        self.project_label.setToolTip(str(project.folder))
        self._update_counts()

    def _update_counts(self) -> None:
        if self.project is not None:
            datasets, runs = len(self.project.dataset_files()), len(self.project.run_dirs())
            self.counts_label.setText(f"{datasets} dataset file(s) · {runs} run(s)")

    def _on_runs_page_rerun_requested(self, path: Path) -> None:
        """A run's configuration was copied to configs/: open it on the Train page."""
        self.show_page("train")
        self.train_page.reload_configs()
        with contextlib.suppress(KeyError):
            self.train_page.select_config(Path(path).stem)
        self.statusBar().showMessage(f"{Path(path).name} is ready on the Train page.", 8000)

    def _on_train_page_run_finished(self, _result: object) -> None:
        """A run ended: the Runs and Evaluate pages and the run count show it."""
        self.page("runs").refresh()
        self.page("evaluate").refresh()
        self.page("export").refresh()
        self._update_counts()

    def _dropped_dataset(self, urls: list[QUrl]) -> Path | None:
        """The first dropped dataset file (only while a project is open)."""
        if self.project is None:
            return None
        for url in urls:
            path = Path(url.toLocalFile()) if url.isLocalFile() else None
            if path is not None and path.is_file() and path.suffix.lower() in DATASET_SUFFIXES:
                return path
        return None

    def _reload(self) -> None:
        if self.project is not None:
            self.open_project_at(self.project.folder)

    def _reveal_project(self) -> None:
        if self.project is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.project.folder)))

    def _update_state(self, state: AppState) -> None:
        self.state = state
        if self.remember:
            self.store.save_state(state)
        self.welcome.set_recent(list(state.recent_projects))

    def _warn(self, title: str, text: str) -> None:
        """Explain a problem without blocking (window-modal, so tests and the GUI go on)."""
        self.last_message_box = show_warning(self, title, text)
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    def _restore_window_state(self) -> None:
        state = ui_state()
        geometry = state.value("main/geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            self.restoreState(state.value("main/windowState", QByteArray()))
        else:
            self.resize(DEFAULT_SIZE)
        page = state.value("main/page", "dataset")
        keys = [p.key for p in self.pages]
        self.navigation.setCurrentRow(keys.index(page) if page in keys else 1)


def _keys(standard: QKeySequence.StandardKey, usual: str) -> list[QKeySequence]:
    """The platform's keys for ``standard``, with ``usual`` added when they lack it (Quit
    has no standard keys on Windows)."""
    keys = QKeySequence.keyBindings(standard)
    if QKeySequence(usual) not in keys:
        keys.append(QKeySequence(usual))
    return keys


def _bring_to_front(window: QWidget) -> None:
    """Show a non-modal window, or raise it when it is open already (behind another)."""
    if window.isVisible() and QGuiApplication.platformName() != "offscreen":
        window.raise_()  # offscreen (tests, screenshots) has no stacking: it only complains
    window.show()
    window.activateWindow()


def _dropped_project(urls: list[QUrl]) -> Path | None:
    for url in urls:
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.name == MANIFEST and path.is_file():
            return path.parent
        if (path / MANIFEST).is_file():
            return path
    return None
