"""Search results: every candidate configuration in one sortable, filterable table model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt

#: Column titles and how each reads a candidate (sorting uses the raw value).
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("GPU", lambda c: c.sizing.deployment.gpu.id),
    ("runtime", lambda c: c.sizing.deployment.runtime.id),
    ("weights/KV", lambda c: f"{c.sizing.deployment.weights_dtype}/{c.sizing.deployment.kv_dtype}"),
    ("TP", lambda c: c.sizing.deployment.tp),
    ("PP", lambda c: c.sizing.deployment.pp),
    ("EP", lambda c: c.sizing.deployment.ep),
    ("per replica", lambda c: c.sizing.per_replica),
    ("dominant", lambda c: c.sizing.dominant),
    ("replicas", lambda c: c.sizing.replicas),
    ("GPUs", lambda c: c.sizing.gpus),
    ("EUR/1M tok", lambda c: c.eur_per_m_tokens),
    ("TTFT p95 ms", lambda c: c.sizing.operating_point.ttft_at_percentile_ms(95) if c.sizing.operating_point else None),
    ("ITL ms", lambda c: c.sizing.operating_point.itl_ms if c.sizing.operating_point else None),
    ("timed by", lambda c: timed_by(c)),
)


def timed_by(candidate: Any) -> str:
    """The performance model behind a candidate's figures; the built-in model's screen says so (the
    chosen model re-timed only the candidates that could rank among the first places)."""
    name = str(candidate.sizing.model.name)
    return f"{name} (screen only)" if candidate.screened_only else name


#: The column of the cost the search ranks by.
COST_COLUMN = [title for title, _ in COLUMNS].index("EUR/1M tok")

Index = QModelIndex | QPersistentModelIndex


class CandidateModel(QAbstractTableModel):
    """The ranked candidates of a search, one row each (cheapest first until sorted)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.candidates: list[Any] = []

    def set_candidates(self, candidates: list[Any]) -> None:
        """Replace the rows."""
        self.beginResetModel()
        self.candidates = list(candidates)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Candidates shown."""
        return 0 if parent.isValid() else len(self.candidates)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Columns shown."""
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The cell's text (display) or raw value (sorting)."""
        if not index.isValid():
            return None
        value = COLUMNS[index.column()][1](self.candidates[index.row()])
        if role == Qt.ItemDataRole.UserRole:
            return value if value is not None else float("inf")
        if role == Qt.ItemDataRole.DisplayRole:
            return "-" if value is None else f"{value:,.3f}" if isinstance(value, float) else str(value)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles; rows numbered by rank."""
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return COLUMNS[section][0] if orientation == Qt.Orientation.Horizontal else str(section + 1)


def candidate_proxy(model: CandidateModel, parent: QObject) -> QSortFilterProxyModel:
    """Sorting by raw values, filtering on every column's text (case-insensitive).

    Both models belong to ``parent`` (the view's page): a model left to Python's collector can be
    deleted after its view, and Qt crashes.
    """
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.ItemDataRole.UserRole)
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return proxy


def candidate_pins(candidate: Any) -> dict[tuple[str, ...], Any]:
    """The plan fields that pin a candidate's configuration (what applying it writes)."""
    d = candidate.sizing.deployment
    return {
        ("hardware", "gpu"): d.gpu.id,
        ("runtime", "id"): d.runtime.id,
        ("runtime", "tp"): d.tp,
        ("runtime", "pp"): d.pp,
        ("runtime", "ep"): d.ep,
        ("runtime", "dp"): d.ep if d.attention_dp else 1,
        ("model", "weights"): d.weights_dtype,
        ("model", "kv_cache"): d.kv_dtype,
    }
