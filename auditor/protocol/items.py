"""Result items decoded into columns: what :mod:`auditor.protocol.columnar` makes of an answer.

Deliberately light (pyarrow is not imported here): endpoints and matching need to recognise
:class:`ItemColumns` without paying for pyarrow at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class ItemColumns:
    """The items of one result as Arrow arrays, one per item column of ``dataset``'s schema.

    Columns have their declared types, except timestamps and dates, which are still the API's
    text: :func:`auditor.write.flatten.flatten` parses those (as it does for decoded dicts).
    """

    dataset: str
    batch: pa.RecordBatch  # named by schema column; one row per item, in the answer's order

    def __len__(self) -> int:
        return self.batch.num_rows

    def urls(self) -> list[Any]:
        """Each item's ``url`` (None where it has none)."""
        return self.url_column().to_pylist()

    def url_column(self) -> pa.Array:
        """The ``url`` column itself."""
        return self.batch.column("url")

    def take(self, rows: Sequence[int]) -> ItemColumns:
        """These rows, in this order."""
        if rows == range(len(self)) or (
                len(rows) == len(self) and all(i == row for i, row in enumerate(rows))):
            return self
        if not rows:  # (an empty list would be taken for an array of nulls)
            return ItemColumns(self.dataset, self.batch.slice(0, 0))
        return ItemColumns(self.dataset, self.batch.take(rows))


def join_items(parts: Sequence[Sequence[Any] | ItemColumns]) -> Sequence[Any] | ItemColumns:
    """The items of several results of one answer, as one sequence (lists or columns)."""
    parts = [part for part in parts if len(part)]
    if len(parts) == 1:
        return parts[0]
    if not any(isinstance(part, ItemColumns) for part in parts):
        return [item for part in parts for item in part]
    import pyarrow as pa

    first = parts[0]
    assert all(isinstance(part, ItemColumns) for part in parts), "one answer, one decoding"
    table = pa.Table.from_batches([part.batch for part in parts])  # type: ignore[union-attr]
    return ItemColumns(first.dataset, table.combine_chunks().to_batches()[0])  # type: ignore[union-attr]
