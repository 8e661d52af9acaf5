"""Feast objects of every active contract's feature views, for `feast apply` run in this folder.

Nothing here is written by hand: for each contract chosen by `RETRAIN_CONTRACT` (default: those
the demo wrote into the platform home, else the transactions contract) and each of its feature
views, `to_feast_objects` generates an entity per entity key, `<dataset>_<view>_source` (the
view's Delta table under the lake root), `<dataset>_<view>_fv` and the versioned feature service
`<dataset>_<view>_v<hash>`.
"""

from __future__ import annotations

from retrain_platform.contracts import active_contracts
from retrain_platform.core.feature_store.feast_objects import FeastObjects, contract_feast_objects
from retrain_platform.home import layout


def _generated() -> list[FeastObjects]:
    lake = layout().lake_uri
    return [
        objects
        for contract in active_contracts(layout().contract_paths())
        for objects in contract_feast_objects(contract, lake)
    ]


def _bind(generated: list[FeastObjects]) -> None:
    # `feast apply` collects only Feast objects that are attributes of the modules it imports
    # (`feast.repo_operations.parse_repo` walks `dir(module)`; it does not look into lists or
    # dicts). How many objects exist depends on the active contracts, so they cannot be written
    # as explicit assignments: each one is bound here under its own Feast name instead. Entities
    # are shared by the views keyed on the same column and bound once; a clash with a different
    # object of the same name is an error rather than a silent overwrite.
    namespace = globals()
    for objects in generated:
        for obj in objects.objects:
            existing = namespace.get(obj.name)
            if existing is not None and existing != obj:
                msg = f"two different Feast objects are named {obj.name!r}"
                raise ValueError(msg)
            namespace[obj.name] = obj


_bind(_generated())
