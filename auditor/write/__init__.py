"""Writing: declared Arrow schemas, flattening API items, Parquet datasets, the checkpoint store,
the atomic commit protocol between them, and the run manifest.

See ``docs/OUTPUT.md`` for the datasets and ``auditor.write.sink`` for the commit protocol.
"""

from auditor.write.checkpoint import (
    CheckpointStore,
    RunRecord,
    StoreLocked,
    Totals,
    UnitCommit,
    Waste,
)
from auditor.write.flatten import (
    ErrorRecord,
    FlattenError,
    NoDataRecord,
    errors_batch,
    flatten,
    no_data_batch,
)
from auditor.write.manifest import (
    InputCounts,
    RejectsWriter,
    RunManifest,
    manifest_from_checkpoint,
    public_settings,
    write_manifest,
)
from auditor.write.schemas import ITEM_DATASETS, SCHEMAS, output_reference
from auditor.write.sink import FlushReport, RecoveryReport, RunSink, SinkClosed, UnitResult

__all__ = [
    "ITEM_DATASETS", "SCHEMAS", "CheckpointStore", "ErrorRecord", "FlattenError", "FlushReport",
    "InputCounts", "NoDataRecord", "RecoveryReport", "RejectsWriter",
    "RunManifest", "RunRecord", "RunSink", "SinkClosed", "StoreLocked", "Totals", "UnitCommit",
    "UnitResult", "Waste", "errors_batch", "flatten", "manifest_from_checkpoint",
    "no_data_batch", "output_reference", "public_settings", "write_manifest",
]
