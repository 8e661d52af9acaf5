"""Request models from the contract: in row mode every model input is required."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from retrain_platform.core.models.inputs import model_feature_names
from retrain_platform.serving.schemas import build_schemas


@pytest.fixture(scope="module")
def schemas(contract):
    view = contract.feature_views[0]
    return build_schemas(contract, view, model_feature_names(contract, view))


def _missing(error: ValidationError) -> set[str]:
    return {e["loc"][-1] for e in error.errors() if e["type"] == "missing"}


def test_every_model_input_is_a_required_field_of_a_row(contract, schemas):
    view = contract.feature_views[0]
    inputs = model_feature_names(contract, view)
    fields = schemas.row.model_fields
    assert [n for n in inputs if not fields[n].is_required()] == []
    optional = set(view.feature_names(contract.label_name)) - set(inputs)
    assert optional and all(not fields[n].is_required() for n in optional)


def test_a_row_of_contract_fields_only_is_refused_naming_every_missing_input(contract, schemas):
    view = contract.feature_views[0]
    inputs = model_feature_names(contract, view)
    contract_names = {c.name for c in contract.columns}
    row = {k: 1 for k in view.entity_keys}
    derived = [n for n in inputs if n not in contract_names]
    assert derived, "the view derives model inputs"
    with pytest.raises(ValidationError) as caught:
        schemas.row.model_validate({**row, **{n: None for n in inputs if n in contract_names}})
    assert _missing(caught.value) == set(derived)


def test_a_nullable_model_input_may_be_null_but_not_absent(contract, schemas):
    view = contract.feature_views[0]
    inputs = model_feature_names(contract, view)
    nullable = next(c.name for c in contract.columns if c.name in inputs and c.nullable)
    fields = schemas.row.model_fields
    assert fields[nullable].is_required()
    assert type(None) in getattr(fields[nullable].annotation, "__args__", ())
