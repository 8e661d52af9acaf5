"""Lineage node titles: every asset's title says which dataset and which role, and fits uncut.

Dagster 1.13's lineage view titles a node with its key's last component only and cuts it in the
middle past `ASSET_NODE_NAME_MAX_LENGTH` (31 in dagster-webserver 1.13's `asset-graph/layout.ts`),
so with every shipped contract in one code location no two assets may share that component and
none may pass 31 characters.
"""

from collections import Counter

import dagster as dg
import pytest

from retrain_platform.contracts import DEFAULT_CONTRACT_PATH, DatasetContract
from retrain_platform.contracts.loader import load_contract
from retrain_platform.definitions import build_definitions
from retrain_platform.home import HomeLayout

NODE_TITLE_MAX_LENGTH = 31
SHIPPED = sorted(DEFAULT_CONTRACT_PATH.parent.glob("*.yaml"))

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
]


@pytest.fixture(scope="module")
def shipped() -> list[DatasetContract]:
    return [load_contract(path) for path in SHIPPED]


@pytest.fixture(scope="module")
def specs(shipped, tmp_path_factory) -> list[dg.AssetSpec]:
    """Every asset of the shipped contracts, in one code location (nothing is written)."""
    home = HomeLayout(tmp_path_factory.mktemp("home"))
    return list(build_definitions(shipped, home=home).resolve_all_asset_specs())


@pytest.fixture(scope="module")
def asset_keys(specs) -> list[dg.AssetKey]:
    return [spec.key for spec in specs]


def test_every_shipped_contract_is_covered(shipped):
    assert {c.dataset for c in shipped} >= {"transactions", "weather"}


def test_no_two_assets_share_a_node_title(asset_keys):
    titles = Counter(key.path[-1] for key in asset_keys)
    assert len(asset_keys) > 20
    assert [title for title, count in titles.items() if count > 1] == []


def test_every_node_title_fits_uncut(asset_keys):
    too_long = {key.to_user_string(): len(key.path[-1]) for key in asset_keys}
    assert {k: n for k, n in too_long.items() if n > NODE_TITLE_MAX_LENGTH} == {}


def test_every_node_title_names_its_dataset(specs):
    for spec in specs:
        assert spec.key.path[-1].startswith(f"{spec.tags['dataset']}_"), spec.key
