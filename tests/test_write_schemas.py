"""The declared schemas against the canonical field lists of the official typed client."""

from __future__ import annotations

import importlib
from pathlib import Path

import pyarrow as pa
import pytest

from auditor.write.schemas import (
    ITEM_DATASETS,
    LINK_COUNTS,
    SCHEMAS,
    TIMESTAMP,
    description,
    output_reference,
    source,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "OUTPUT.md"
CONTEXT = ["run_id", "task_id", "fetched_at"]

ON_PAGE_LINK_MODELS = ["alternate", "anchor", "canonical", "image", "link", "meta", "redirect"]


def model(module: str, name: str) -> type:
    return getattr(importlib.import_module(f"dataforseo_client.models.{module}"), name)


def model_fields(cls: type) -> dict[str, str]:
    """Field name -> annotation text, without the client's catch-all ``additional_properties``."""
    return {name: str(info.annotation) for name, info in cls.model_fields.items()
            if name != "additional_properties"}


def expected_type(name: str, annotation: str) -> pa.DataType:
    if "Dict[str" in annotation:
        return LINK_COUNTS
    if "List[" in annotation:
        return pa.list_(pa.string())
    if "[bool," in annotation:
        return pa.bool_()
    if "[int," in annotation:
        return pa.int64()
    assert "[str," in annotation, annotation
    if name in ("first_seen", "lost_date"):
        return TIMESTAMP
    if name == "date":
        return pa.date32()
    return pa.string()


def item_columns(dataset: str) -> dict[str, pa.Field]:
    """Source path -> field, for the columns that come from API items."""
    return {src: f for f in SCHEMAS[dataset] if (src := source(f)) is not None}


@pytest.mark.parametrize(("dataset", "module", "cls"), [
    ("bulk_pages_summary", "backlinks_bulk_pages_summary_live_item",
     "BacklinksBulkPagesSummaryLiveItem"),
    ("domain_pages_summary", "backlinks_domain_pages_summary_live_item",
     "BacklinksDomainPagesSummaryLiveItem"),
])
def test_page_summary_columns_are_the_client_model_fields(dataset: str, module: str,
                                                          cls: str) -> None:
    fields = model_fields(model(module, cls))
    columns = item_columns(dataset)
    assert set(columns) == set(fields)
    for name, annotation in fields.items():
        assert columns[name].type == expected_type(name, annotation), name


def test_history_columns_are_the_client_model_fields_with_info_flattened() -> None:
    fields = model_fields(model("backlinks_history_live_item", "BacklinksHistoryLiveItem"))
    info = model_fields(model("target_info", "TargetInfo"))
    expected = {name: annotation for name, annotation in fields.items() if name != "info"}
    expected |= {f"info.{name}": annotation for name, annotation in info.items()}
    columns = item_columns("backlinks_history")
    assert set(columns) == set(expected)
    for path, annotation in expected.items():
        assert columns[path].type == expected_type(path.split(".")[-1], annotation), path
    assert columns["info.server"].name == "info_server"


def test_index_columns_cover_the_client_model_plus_the_documented_total_domains() -> None:
    fields = model_fields(model("backlinks_index_result_info", "BacklinksIndexResultInfo"))
    columns = item_columns("backlinks_index")
    # total_domains is on the published page but missing from the typed model.
    assert set(columns) == set(fields) | {"total_domains"}
    history = columns["index_history"].type.value_type
    month = model_fields(model("index_history", "IndexHistory"))
    assert {f.name for f in history} == set(month) | {"total_domains"}
    assert history.field("date").type == pa.date32()


def test_on_page_link_columns_are_the_union_of_every_link_item_model() -> None:
    union: dict[str, str] = {}
    for kind in ON_PAGE_LINK_MODELS:
        cls = f"OnPage{kind.capitalize()}LinkItem"
        union |= model_fields(model(f"on_page_{kind}_link_item", cls))
    columns = item_columns("on_page_links")
    assert set(columns) == set(union)
    for name, annotation in union.items():
        assert columns[name].type == expected_type(name, annotation), name


@pytest.mark.parametrize("dataset", ITEM_DATASETS)
def test_item_datasets_carry_target_and_run_context(dataset: str) -> None:
    schema = SCHEMAS[dataset]
    assert schema.names[0] == "target"
    assert schema.names[-3:] == CONTEXT
    assert schema.field("fetched_at").type == TIMESTAMP
    assert not schema.field("run_id").nullable
    assert "run_date" not in schema.names  # the partition lives in the directory name


@pytest.mark.parametrize("dataset", SCHEMAS)
def test_every_column_is_described_and_names_are_unique(dataset: str) -> None:
    schema = SCHEMAS[dataset]
    assert len(set(schema.names)) == len(schema.names)
    for field in schema:
        assert description(field), f"{dataset}.{field.name} has no description"
    assert schema.metadata[b"auditor.dataset"] == dataset.encode()


def test_no_data_and_errors_record_every_identifying_field() -> None:
    assert set(SCHEMAS["no_data"].names) == {
        "endpoint", "target", "unit_id", "status_code", *CONTEXT}
    assert set(SCHEMAS["errors"].names) == {
        "endpoint", "target", "unit_id", "http_status", "status_code", "status_message",
        "attempts", "last_attempt_at", *CONTEXT}
    assert SCHEMAS["errors"].field("last_attempt_at").type == TIMESTAMP


def test_the_shared_page_summary_fields_are_declared_once() -> None:
    bulk = SCHEMAS["bulk_pages_summary"]
    domain = SCHEMAS["domain_pages_summary"]
    assert [n for n in bulk.names if n != "main_domain_rank"] == domain.names
    for name in domain.names:
        assert bulk.field(name).type == domain.field(name).type


def test_docs_output_md_is_generated_from_the_schemas() -> None:
    assert DOCS.read_text(encoding="utf-8") == output_reference(), (
        "docs/OUTPUT.md is stale: regenerate it (command at the top of the file)")


def test_the_reference_lists_every_column_of_every_dataset() -> None:
    text = output_reference()
    for name, schema in SCHEMAS.items():
        assert f"## `{name}`" in text
        for field in schema:
            assert f"| `{field.name}` |" in text
