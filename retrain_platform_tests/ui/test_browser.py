"""The Dagster UI in a real browser: lineage, a partition run, a backfill and check results.

Starts `dagster-webserver` and `dagster-daemon` on the repository's workspace.yaml with the
repository's dagster.yaml in a temporary DAGSTER_HOME and a temporary RETRAIN_HOME holding a few
days of synthetic landing files, then drives Debian's Chromium through Playwright the way a person
uses the UI. What the UI should show is derived from `build_definitions()`, so new layers are
checked without changing this test.

The landing sensor, the automation sensor and the freshness schedule are stopped (GraphQL
`stopSensor` / `stopRunningSchedule`, the UI's toggles) before the daemon starts, so the only
runs are the ones this test launches. The backfill is launched as soon as the daemon is up and
runs while the browser does steps 1 and 2: the backfill daemon evaluates backfills every 30 s, and
waiting for it only after step 2 would add about a minute.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retrain_platform.contracts import CONTRACT_ENV_VAR
from retrain_platform.core.synthetic import write_landing_files
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform_tests.fixtures.browser import (
    ARTIFACTS,
    REPO,
    UI_MS,
    Dagster,
    chromium_context,
    dismiss_community_modal,
    free_port,
    location_name,
    remove_screenshots,
    require_chromium,
    server_env,
    start_sensor,
    stop_instigators,
)

pytestmark = pytest.mark.slow

DAYS = 4
RUN_S = 120
BACKFILL_S = 180
SHOT_PREFIX = "0"  # this test's screenshots: 01-lineage.png ... 05-ledger.png, 00-failure.png


# -- what the UI must show -----------------------------------------------------------------------


def expected_groups() -> dict[str, list[str]]:
    """Group name -> display names (last key component) of its assets, from the definitions."""
    groups: dict[str, list[str]] = {}
    for spec in build_definitions().resolve_all_asset_specs():
        groups.setdefault(spec.group_name or "default", []).append(spec.key.path[-1])
    return {group: sorted(names) for group, names in sorted(groups.items())}


def label_matches(label: str, name: str) -> bool:
    """A graph label is the name, or the name shortened in the middle (`transacti…_history`)."""
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return name.startswith(head) and name.endswith(tail) and len(name) >= len(head) + len(tail)


def match_labels(labels: list[str], names: list[str]) -> bool:
    """Whether every name has its own label (a one-to-one assignment exists)."""
    if len(labels) != len(names):
        return False
    if not names:
        return True
    first, rest = names[0], names[1:]
    return any(
        label_matches(label, first) and match_labels(labels[:i] + labels[i + 1 :], rest)
        for i, label in enumerate(labels)
    )


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def dagster_ui(tmp_path: Path, contract) -> Iterator[tuple[Dagster, list[str]]]:
    """Webserver and daemon on a fresh home with DAYS days of landing files ending yesterday."""
    require_chromium()
    today = datetime.now(UTC).date()
    start = today - timedelta(days=DAYS)
    partitions = [(start + timedelta(days=i)).isoformat() for i in range(DAYS)]
    home = tmp_path / "home"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    write_landing_files(
        contract,
        home / "landing" / contract.dataset,
        start=start,
        days=DAYS,
        rows_per_day=1500,
        seed=11,
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    dagster = Dagster(
        f"http://127.0.0.1:{port}", location_name(), server_env(dagster_home, home), logs
    )
    try:
        dagster.start_webserver(port)
        stop_instigators(dagster)
        yield dagster, partitions  # the test starts the daemon (start_daemon)
    finally:
        dagster.stop()


# -- GraphQL: runs, backfills, materializations --------------------------------------------------

RUNS_QUERY = """query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
    runId status tags { key value } } } } }"""
BACKFILL_QUERY = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    __typename ... on PartitionBackfill { id status numPartitions
      assetBackfillData { assetBackfillStatuses { ... on AssetPartitionsStatusCounts {
        assetKey { path } numPartitionsTargeted numPartitionsMaterialized numPartitionsFailed
        numPartitionsInProgress } } } } ... on PythonError { message } } }"""
MATERIALIZED_QUERY = """query($k: AssetKeyInput!, $p: [String!]) { assetOrError(assetKey: $k) {
    ... on Asset { assetMaterializations(partitions: $p) { partition runId } } } }"""


def launch_backfill(dagster: Dagster, asset_keys: list[list[str]], partitions: list[str]) -> str:
    """The mutation the UI sends for "Launch backfill" on a selection of assets."""
    result = dagster.graphql(
        """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
            __typename ... on LaunchBackfillSuccess { backfillId }
            ... on PythonError { message } ... on InvalidStepError { invalidStepKey } } }""",
        {
            "p": {
                "assetSelection": [{"path": key} for key in asset_keys],
                "partitionNames": partitions,
                "fromFailure": False,
                "tags": [{"key": "retrain/test", "value": "ui"}],
            }
        },
    )["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def backfill_done(dagster: Dagster, backfill_id: str) -> dict | None:
    backfill = dagster.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
    assert backfill["__typename"] == "PartitionBackfill", backfill
    if backfill["status"] in ("FAILED", "CANCELED", "CANCELING", "COMPLETED_FAILED"):
        pytest.fail(
            f"backfill {backfill_id} ended {backfill['status']}: {backfill}\n{dagster.tails()}"
        )
    return backfill if backfill["status"] == "COMPLETED_SUCCESS" else None


def partition_run(dagster: Dagster, partition: str) -> dict | None:
    """The (non-backfill) run of `partition`, once it has succeeded."""
    runs = dagster.graphql(
        RUNS_QUERY, {"f": {"tags": [{"key": "dagster/partition", "value": partition}]}}
    )
    for run in runs["runsOrError"]["results"]:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        if "dagster/backfill" in tags:
            continue
        if run["status"] in ("FAILURE", "CANCELED"):
            pytest.fail(
                f"run {run['runId']} for {partition} ended {run['status']}\n{dagster.tails()}"
            )
        if run["status"] == "SUCCESS":
            return run
    return None


def materialized_partitions(dagster: Dagster, key: list[str], partitions: list[str]) -> set[str]:
    data = dagster.graphql(MATERIALIZED_QUERY, {"k": {"path": key}, "p": partitions})
    return {m["partition"] for m in data["assetOrError"]["assetMaterializations"]}


# -- browser steps -------------------------------------------------------------------------------

BACKGROUND_POINT = """(svg) => {
  const r = svg.getBoundingClientRect();
  for (let y = r.top + 20; y < r.bottom - 20; y += 20) {
    for (let x = r.left + 20; x < r.right - 100; x += 20) {
      const el = document.elementFromPoint(x, y);
      if (el && svg.contains(el) && !el.closest('foreignObject')) return [x, y];
    }
  }
  return null;
}"""
SIDEBAR_ROWS = """() => Array.from(document.querySelectorAll('button'))
  .filter(b => b.querySelector('[title]') && b.querySelector('[role=img]'))
  .map(b => [b.querySelector('[role=img]').getAttribute('aria-label'),
             b.querySelector('[title]').getAttribute('title')])"""
GRAPH_LABELS = """() => Array.from(document.querySelectorAll('foreignObject:not(.group)'))
  .map(e => e.textContent.trim()).filter(t => t)"""


def check_lineage(page, base_url: str, expected: dict[str, list[str]], shot: Path) -> None:
    page.goto(f"{base_url}/asset-groups")
    dismiss_community_modal(page)
    page.get_by_text("Global asset lineage").wait_for()
    groups = page.locator("foreignObject.group")
    page.wait_for_function(
        "n => document.querySelectorAll('foreignObject.group').length >= n", arg=len(expected)
    )
    shown_groups = sorted(
        groups.evaluate_all(
            "els => els.map(e => e.querySelector('[data-tooltip]').getAttribute('data-tooltip'))"
        )
    )
    assert shown_groups == sorted(expected), shown_groups

    # groups start collapsed: "Expand all groups" from the graph's context menu
    total = sum(len(names) for names in expected.values())
    if len(page.evaluate(GRAPH_LABELS)) < total:
        point = page.locator("svg:has(foreignObject.group)").first.evaluate(BACKGROUND_POINT)
        assert point, "no empty spot in the lineage graph to right-click"
        page.mouse.click(point[0], point[1], button="right")
        page.get_by_role("menuitem", name=re.compile("Expand all groups")).click()
    page.wait_for_function(f"() => ({GRAPH_LABELS})().length >= {total}")
    labels = page.evaluate(GRAPH_LABELS)
    names = [name for group in expected.values() for name in group]
    assert match_labels(labels, names), (labels, names)

    # the asset tree beside the graph: every group, expanded, lists exactly its assets
    for group in expected:
        row = (
            page.locator("div", has=page.locator(f'[title="{group}"]'))
            .filter(has=page.locator("[aria-label=arrow_drop_down]"))
            .last
        )
        row.locator("button:has([aria-label=arrow_drop_down])").first.click()
    page.wait_for_function(f"() => ({SIDEBAR_ROWS})().length >= {len(expected) + total}")
    tree: dict[str, list[str]] = {}
    current = None
    for icon, title in page.evaluate(SIDEBAR_ROWS):
        if icon == "asset_group":
            current = tree.setdefault(title, [])
        elif current is not None:
            current.append(title)
    assert {g: sorted(n) for g, n in tree.items()} == expected, tree
    page.screenshot(path=str(shot))


def materialize_partition_in_ui(page, base_url: str, key: list[str], partition: str) -> None:
    """Asset page -> Materialize… -> type the partition -> "Launch 1 run"."""
    page.goto(f"{base_url}/assets/{'/'.join(key)}")
    page.get_by_role("button", name=re.compile("Materialize…")).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(re.compile("Launch runs to materialize")).wait_for()
    partition_input = dialog.get_by_placeholder(re.compile("partition", re.IGNORECASE)).first
    partition_input.fill(partition)
    partition_input.press("Enter")
    launch = dialog.get_by_role("button", name="Launch 1 run")
    launch.wait_for()
    launch.click()
    dialog.wait_for(state="hidden")


def check_checks_tab(
    page, base_url: str, key: list[str], checks: list[str], must_pass: list[str], shot: Path
) -> dict[str, str]:
    page.goto(f"{base_url}/assets/{'/'.join(key)}?view=checks")
    for name in checks:
        page.get_by_text(name, exact=True).first.wait_for()
    page.get_by_text("Passed", exact=True).first.wait_for()  # the selected check's latest result
    lines = [line.strip() for line in page.locator("body").inner_text().splitlines()]
    statuses = {}
    for name in checks:
        index = lines.index(name)
        following = [line for line in lines[index + 1 : index + 4] if line and line != name]
        statuses[name] = following[0] if following else ""
    for name in must_pass:
        assert statuses[name] == "Succeeded", statuses
    page.screenshot(path=str(shot))
    return statuses


def start_landing_sensor_with_bad_files(dagster: Dagster, contract) -> None:
    """Land an unreadable and an empty file, then start the landing sensor (as the UI's toggle)."""
    landing = Path(dagster.env["RETRAIN_HOME"]) / "landing" / contract.dataset
    landed = time.time() - 120  # landed two minutes ago: past the grace period, read at once
    for name, data in (("broken_upload.parquet", b"PAR1 this is not parquet"), ("empty.csv", b"")):
        (landing / name).write_bytes(data)
        os.utime(landing / name, (landed, landed))
    start_sensor(dagster, f"{contract.dataset}_landing_sensor")


def check_ledger(page, base_url: str, key: list[str], shot: Path) -> None:
    """The ledger asset's page shows the sensor's latest observation: statuses and the files."""
    page.goto(f"{base_url}/assets/{'/'.join(key)}")
    deadline = time.monotonic() + RUN_S
    while not page.get_by_text("broken_upload.parquet").count():
        assert time.monotonic() < deadline, "no observation of the landing ledger shown"
        page.wait_for_timeout(2_000)
        page.reload()
    row = page.get_by_text("broken_upload.parquet").first
    row.scroll_into_view_if_needed()
    assert "unreadable" in page.locator("body").inner_text()
    page.screenshot(path=str(shot))


# -- the test ------------------------------------------------------------------------------------


def test_lineage_partition_run_backfill_and_checks_in_chromium(
    dagster_ui, contract, tmp_path, monkeypatch, record_property
):
    dagster, partitions = dagster_ui
    monkeypatch.delenv(CONTRACT_ENV_VAR, raising=False)  # the servers' contracts: the default
    expected = expected_groups()
    raw, valid = keys.raw_key(contract).path, keys.validated_key(contract).path
    quarantine = keys.quarantine_key(contract).path
    single, backfilled = partitions[0], partitions[1:4]
    defs = build_definitions()
    checks = sorted(
        k.name
        for k in defs.resolve_asset_graph().asset_check_keys
        if k.asset_key == keys.validated_key(contract)
    )
    partition_checks = sorted(
        spec.name for spec in defs.resolve_assets_def(keys.validated_key(contract)).check_specs
    )
    remove_screenshots(SHOT_PREFIX)
    shots = {
        name: ARTIFACTS / f"{name}.png"
        for name in ("01-lineage", "02-partition-run", "03-backfill", "04-checks", "05-ledger")
    }
    started = time.monotonic()

    # (3, launched first) backfill raw + validated over three partitions; the daemon runs it.
    # Launched before the daemon starts, so that its first backfill iteration picks it up.
    backfill_id = launch_backfill(dagster, [raw, valid, quarantine], backfilled)
    dagster.start_daemon()
    timings = {"daemon up": time.monotonic() - started}

    with chromium_context(tmp_path / "chromium-profile") as browser:
        page = browser.new_page()
        page.set_default_timeout(UI_MS)
        try:
            # (1) lineage: every group and every asset of the definitions
            check_lineage(page, dagster.base_url, expected, shots["01-lineage"])
            timings["lineage"] = time.monotonic() - started

            # (2) one raw partition through the Materialize dialog, then the run succeeds
            materialize_partition_in_ui(page, dagster.base_url, raw, single)
            run = dagster.wait(
                f"the run of {'/'.join(raw)} {single}",
                lambda: partition_run(dagster, single),
                RUN_S,
                1.0,
            )
            assert materialized_partitions(dagster, raw, [single]) == {single}
            page.goto(f"{dagster.base_url}/runs/{run['runId']}")
            page.get_by_text("RUN_SUCCESS").first.wait_for()
            page.screenshot(path=str(shots["02-partition-run"]))
            timings["partition run"] = time.monotonic() - started

            # (3) the backfill completes: both layers hold the three partitions
            page.goto("about:blank")  # no live queries from the browser while runs compete
            backfill = dagster.wait(
                f"backfill {backfill_id}",
                lambda: backfill_done(dagster, backfill_id),
                BACKFILL_S,
                2.0,
            )
            counts = {
                tuple(s["assetKey"]["path"]): s
                for s in backfill["assetBackfillData"]["assetBackfillStatuses"]
            }
            for key in (raw, valid, quarantine):
                assert counts[tuple(key)]["numPartitionsMaterialized"] == len(backfilled), counts
                assert counts[tuple(key)]["numPartitionsFailed"] == 0, counts
                assert materialized_partitions(dagster, key, backfilled) == set(backfilled)
            page.goto(f"{dagster.base_url}/runs/b/{backfill_id}")
            page.get_by_text(backfill_id).first.wait_for()
            page.screenshot(path=str(shots["03-backfill"]))
            timings["backfill"] = time.monotonic() - started

            # (4) the validated table's Checks tab shows the checks and their results
            statuses = check_checks_tab(
                page, dagster.base_url, valid, checks, partition_checks, shots["04-checks"]
            )

            # (5) the landing ledger: the sensor's observation of landing/<dataset>, its files
            start_landing_sensor_with_bad_files(dagster, contract)
            check_ledger(page, dagster.base_url, keys.ledger_key(contract).path, shots["05-ledger"])
        except BaseException:
            failure = ARTIFACTS / f"{SHOT_PREFIX}0-failure.png"
            page.screenshot(path=str(failure))
            print(f"\nfailure screenshot: {failure}\n{dagster.tails()}")
            raise

    elapsed = time.monotonic() - started
    for name, path in shots.items():
        assert path.stat().st_size > 10_000, path
        record_property(f"screenshot_{name}", str(path))
    steps = ", ".join(f"{step} {at:.0f} s" for step, at in timings.items())
    print(f"\nUI flow {elapsed:.0f} s ({steps}); check results: {statuses}")
    print("screenshots:\n" + "\n".join(f"  {path}" for path in shots.values()))
