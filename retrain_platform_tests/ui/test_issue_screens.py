"""The screens a user reads to follow a retraining cycle, on a demo home, in Chromium.

One `retrain-platform demo` (twelve small days: a champion from the backfill, drift on the last
day and the retrain it triggers) gives a home with history. Its contract copy's gate is then
tightened so no challenger can pass, and the servers start on that home: `dagster-webserver`
with the home's transactions contract and the shipped weather contract, `mlflow ui` on the
home's store, `retrain-platform serve`, and `dagster-daemon` with every sensor and schedule
stopped except the transactions retrain sensor. A retrain run launched as the UI launches it is
then rejected by the gate. Each test opens one screen, asserts what a user reads there and saves
a screenshot `1<issue part>-<what>.png` in `test-artifacts/ui/`; the tests run in file order,
the ones needing the rejected run or a sensor tick last, while the run happens.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from retrain_platform.contracts import CONTRACT_ENV_VAR, DEFAULT_CONTRACT_PATH, load_contract
from retrain_platform.definitions import build_definitions
from retrain_platform.defs import keys
from retrain_platform.defs import model_keys as mk
from retrain_platform.defs.models.jobs import retrain_job_name
from retrain_platform.defs.monitoring.metadata import drift_report_key
from retrain_platform.defs.monitoring.retrain_sensor import retrain_sensor_name
from retrain_platform.resources.tracking import UI_URL_ENV_VAR
from retrain_platform_tests.fixtures.browser import (
    ARTIFACTS,
    BIN,
    REPO,
    STARTUP_S,
    UI_MS,
    Dagster,
    chromium_context,
    dismiss_community_modal,
    free_port,
    http_ok,
    location_name,
    remove_screenshots,
    server_env,
    start_sensor,
    stop_instigators,
)

pytestmark = pytest.mark.slow

SHOT_PREFIX = "1"  # this module's screenshots: 11-... to 18-..., 10-failure-<test>.png
DAYS, BACKFILL_DAYS, DRIFT_DAY = 12, 10, 11
DEMO_S = 600
RUN_S = 240
TICK_S = 180
WEATHER_CONTRACT = DEFAULT_CONTRACT_PATH.with_name("weather.yaml")
# no challenger reaches this recall at the decision threshold: the gate rejects it
REJECTING_POLICY = {"min_recall_at_threshold": 0.999}


@dataclass
class Screens:
    dagster: Dagster
    mlflow_url: str
    serve_url: str
    contract_path: Path
    retrain_run_id: str

    @property
    def contract(self):
        return load_contract(self.contract_path)


def shot(name: str) -> Path:
    return ARTIFACTS / f"{name}.png"


# -- the home and its servers --------------------------------------------------------------------


def run_demo(env: dict[str, str], logs: Path) -> None:
    args = [
        str(BIN / "retrain-platform"),
        "demo",
        "--days", str(DAYS),
        "--backfill-days", str(BACKFILL_DAYS),
        "--rows-per-day", "1500",
        "--drift-day", str(DRIFT_DAY),
        "--faults", "none",
    ]  # fmt: skip
    log = logs / "demo.log"
    with log.open("wb") as out:
        done = subprocess.run(
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=DEMO_S
        )
    assert done.returncode == 0, log.read_text(errors="replace")[-3000:]


def tighten_gate(contract_path: Path) -> None:
    """Edit the home's contract copy (as a user would) so the gate rejects every challenger."""
    document = yaml.safe_load(contract_path.read_text())
    document["policy"].update(REJECTING_POLICY)
    contract_path.write_text(yaml.safe_dump(document, sort_keys=False))


def launch_retrain(dagster: Dagster, job: str) -> str:
    """The mutation the UI sends for "Materialize all" on the retrain job's page."""
    result = dagster.graphql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
            ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {"p": {"selector": {**dagster.repository_selector(), "jobName": job}, "runConfigData": {}}},
    )["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Iterator[Screens]:
    root = tmp_path_factory.mktemp("screens")
    home, dagster_home, logs = root / "home", root / "dagster_home", root / "logs"
    dagster_home.mkdir()
    logs.mkdir()
    (dagster_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    remove_screenshots(SHOT_PREFIX)
    base_env = server_env(dagster_home, home)
    run_demo(base_env, logs)
    contract_path = home / "contracts" / "transactions.yaml"
    tighten_gate(contract_path)

    ports = {name: free_port() for name in ("dagster", "mlflow", "serve")}
    mlflow_url = f"http://127.0.0.1:{ports['mlflow']}"
    serve_url = f"http://127.0.0.1:{ports['serve']}"
    env = {
        **base_env,
        CONTRACT_ENV_VAR: os.pathsep.join([str(contract_path), str(WEATHER_CONTRACT)]),
        UI_URL_ENV_VAR: mlflow_url,
    }
    dagster = Dagster(f"http://127.0.0.1:{ports['dagster']}", location_name(), env, logs)
    try:
        store = home / "mlflow"
        dagster.start(
            "mlflow",
            [
                str(BIN / "mlflow"),
                "ui",
                "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
                "--default-artifact-root", str(store / "artifacts"),
                "--host", "127.0.0.1",
                "--port", str(ports["mlflow"]),
            ],
        )  # fmt: skip
        dagster.start(
            "serve",
            [
                str(BIN / "retrain-platform"),
                "serve",
                "--port", str(ports["serve"]),
                "--no-shadow",
                "--log-level", "warning",
            ],
            env=base_env,  # the contract the demo wrote into the home
        )  # fmt: skip
        dagster.start_webserver(ports["dagster"])
        stop_instigators(dagster)
        contract = load_contract(contract_path)
        start_sensor(dagster, retrain_sensor_name(contract))
        run_id = launch_retrain(dagster, retrain_job_name(contract))
        dagster.start_daemon()  # its run queue launches the retrain run
        dagster.wait("mlflow ui", lambda: http_ok(f"{mlflow_url}/health"), STARTUP_S, 0.5)
        dagster.wait("retrain-platform serve", lambda: http_ok(f"{serve_url}/live"), STARTUP_S)
        yield Screens(dagster, mlflow_url, serve_url, contract_path, run_id)
    finally:
        dagster.stop()


@pytest.fixture(scope="module")
def browser(screens, tmp_path_factory) -> Iterator:
    with chromium_context(tmp_path_factory.mktemp("chromium") / "profile") as context:
        page = context.new_page()
        page.set_default_timeout(UI_MS)
        page.goto(screens.dagster.base_url)
        dismiss_community_modal(page)
        page.close()
        yield context


@pytest.fixture
def page(browser, screens, request) -> Iterator:
    page = browser.new_page()
    page.set_default_timeout(UI_MS)
    yield page
    report = getattr(request.node, "rep_call", None)  # set by this folder's conftest
    if report is not None and report.failed:
        failure = shot(f"{SHOT_PREFIX}0-failure-{request.node.name}")
        page.screenshot(path=str(failure))
        print(f"failure screenshot: {failure}\n{screens.dagster.tails()}")
    page.close()


def asset_url(screens: Screens, key, view: str | None = None) -> str:
    url = f"{screens.dagster.base_url}/assets/{'/'.join(key.path)}"
    return f"{url}?view={view}" if view else url


def select_check(page, name: str) -> None:
    """Click a check in the Checks tab's list. A long name shows shortened, its full text in a
    hidden measure beside the label (hidden once the list has laid out, not before), so the
    click goes to the visible parent of an element holding the name, waiting until there is one."""
    page.get_by_text(name, exact=True).locator("xpath=..").filter(visible=True).first.click()


def body_text(page) -> str:
    return page.locator("body").inner_text()


# -- the screens, in the order their data is ready -----------------------------------------------


def test_drift_plots_and_table(screens, page):
    """#16.3: the drift asset's numbers plotted beside `psi_threshold`, and `drift_by_column`."""
    page.goto(asset_url(screens, drift_report_key(screens.contract)))
    page.get_by_text("psi_threshold", exact=True).first.wait_for()
    page.get_by_role("button", name="Plots").click()
    for chart in ("max_psi", "psi_threshold", "drift_share"):
        page.get_by_text(chart, exact=True).first.wait_for()
    page.get_by_text("psi_threshold", exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(shot("12-drift-plots")))

    page.get_by_role("button", name="Table").click()
    schema = page.get_by_text("Show schema").first  # the first cell of drift_by_column's value
    schema.wait_for()
    schema.evaluate("e => e.scrollIntoView({block: 'start'})")
    text = body_text(page)
    header = "column\tkind\tstatus\tdrifted\tpsi"
    assert header in text, text[-3000:]
    rows = text.split(header, 1)[1].splitlines()
    assert any(row.split("\t")[2:3] == ["drifted"] for row in rows), rows[:5]  # the drift day
    page.screenshot(path=str(shot("12-drift-by-column")))


def test_check_descriptions_and_severity(screens, page):
    """#16.4 and #12: a WARN check and an ERROR check of validated, and the features checks."""
    contract = screens.contract
    page.goto(asset_url(screens, keys.validated_key(contract), "checks"))
    for name, kind, consequence in (
        ("label_rate_in_band", "non-blocking", "Warning only"),
        ("has_min_rows", "blocking", "Blocking: a failed partition is left out downstream"),
    ):
        select_check(page, name)
        page.get_by_text(f"This is a {kind} asset check.").wait_for()
        page.get_by_text(consequence).first.wait_for()
        severity = "warn" if kind == "non-blocking" else "error"
        page.screenshot(path=str(shot(f"13-validated-check-{severity}")))

    view = contract.feature_views[0]
    page.goto(asset_url(screens, keys.features_key(contract, view), "checks"))
    for name, kind, description in (
        ("features_complete_after_warm_up", "non-blocking", "Warning only: a gap in the data"),
        ("features_match_schema", "blocking", "The features match the Pandera schema derived"),
    ):
        select_check(page, name)
        page.get_by_text(description).first.wait_for()
        page.get_by_text(f"This is a {kind} asset check.").wait_for()
    page.screenshot(path=str(shot("13-features-checks")))


def test_partition_fill_starts_on_the_first_data_day(screens, page):
    """#16.6: the home's contract starts the partitions on the data's first day, so the fill of
    validated is (nearly) full, not the few per cent of a start long before the data."""
    key = keys.validated_key(screens.contract)
    page.goto(asset_url(screens, key, "partitions"))
    page.get_by_text(f"Materialized ({DAYS})").wait_for()
    page.get_by_text(re.compile(r"^\d+ Partitions Selected$")).wait_for()
    page.screenshot(path=str(shot("15-validated-partitions")))

    page.goto(asset_url(screens, key, "lineage"))
    # upstream only: with every downstream asset the graph is zoomed out to boxes without details
    page.get_by_role("button", name="Upstream").click()
    page.wait_for_url(re.compile("upstream", re.IGNORECASE))
    zoom_in = page.locator("button:has([aria-label='zoom_in'])").first
    for _ in range(3):  # close enough for the nodes to show their details
        zoom_in.click()
    titles = [keys.raw_key(screens.contract).path[-1], key.path[-1]]
    page.wait_for_function(  # each node's partition counts load on their own
        """titles => titles.every(t => Array.from(document.querySelectorAll('foreignObject'))
            .some(e => e.textContent.startsWith(t + 'Latest event')
                       && /Partitions\\d+% filled/.test(e.textContent)))""",
        arg=titles,
    )
    nodes = page.evaluate(
        "() => Array.from(document.querySelectorAll('foreignObject')).map(e => e.textContent)"
    )
    fills = {
        title: re.search(r"Partitions(\d+)% filled", node)
        for node in nodes
        for title in titles
        if node.startswith(f"{title}Latest event")
    }
    assert set(fills) == set(titles), nodes
    assert all(m and int(m.group(1)) >= 90 for m in fills.values()), nodes
    page.screenshot(path=str(shot("15-validated-lineage-fill")))


def test_serving_docs_render_offline(screens, page):
    """#16.7: `/docs` of `retrain-platform serve` renders with every non-local request refused."""
    refused: list[str] = []

    def local_only(route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{screens.serve_url}/docs")
    page.locator(".opblock-summary-path", has_text=re.compile(r"^/predict$")).wait_for()
    assert page.get_by_text("POST", exact=True).first.is_visible()
    page.screenshot(path=str(shot("16-serve-docs-offline")))
    assert refused == []  # nothing was even asked of the network


def test_weather_lineage_has_every_layer(screens, page):
    """#12: with both contracts, weather's own groups (`weather_<layer>`), each with its assets."""
    weather = load_contract(WEATHER_CONTRACT)
    expected: dict[str, list[str]] = {}
    for spec in build_definitions([weather]).resolve_all_asset_specs():
        expected.setdefault(spec.group_name, []).append(spec.key.path[-1])
    assert all(group.startswith(f"{weather.dataset}_") for group in expected), expected
    page.goto(f"{screens.dagster.base_url}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    for group in expected:
        page.locator(f'[title="{group}"]').first.wait_for()
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('foreignObject.group [data-tooltip]'))
            .map(e => e.getAttribute('data-tooltip'))"""
    )
    assert set(expected) <= set(shown), shown
    # the tree beside the graph: each weather group expanded lists its assets
    for group in sorted(expected):
        row = (
            page.locator("div", has=page.locator(f'[title="{group}"]'))
            .filter(has=page.locator("[aria-label=arrow_drop_down]"))
            .last
        )
        row.locator("button:has([aria-label=arrow_drop_down])").first.click()
    for names in expected.values():
        for name in names:
            page.locator(f'[title="{name}"]').first.wait_for()
    page.screenshot(path=str(shot("18-weather-lineage")))


def test_mlflow_runs_by_name(screens, page):
    """#16.5: the experiment's classic runs view lists the runs as `<dataset>-v<n>-<trigger>`."""
    dataset = screens.contract.dataset
    experiment = json_get(
        f"{screens.mlflow_url}/api/2.0/mlflow/experiments/get-by-name?experiment_name={dataset}"
    )["experiment"]
    tags = {t["key"]: t["value"] for t in experiment.get("tags", [])}
    assert tags.get("mlflow.experimentKind") == "custom_model_development", tags
    page.goto(f"{screens.mlflow_url}/#/experiments/{experiment['experiment_id']}/runs")
    names = page.get_by_role("link", name=re.compile(rf"^{dataset}-v\d+-\w+$"))
    names.first.wait_for()
    shown = names.all_inner_texts()
    assert any(n.endswith("-drift") for n in shown), shown  # the drift retrain of the demo
    page.screenshot(path=str(shot("14-mlflow-runs")))


def test_retrain_sensor_tick_logs_its_decision(screens, page):
    """#16.8: the tick's "View logs" shows what the retrain sensor decided and read."""
    sensor = retrain_sensor_name(screens.contract)
    dagster = screens.dagster
    dagster.wait(f"a tick of {sensor}", lambda: _ticked(dagster, sensor), TICK_S, 2.0)
    page.goto(f"{dagster.base_url}/locations/{dagster.location}/sensors/{sensor}")
    page.get_by_role("button", name="View logs").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"{sensor} at ").first.wait_for()
    text = dialog.inner_text()
    assert re.search(rf"{sensor} at [^:]+:\d\d:\d\d UTC: (no retrain|retrain)", text), text
    assert "| inputs: champion v" in text, text
    page.screenshot(path=str(shot("17-retrain-sensor-tick-logs")))


def test_gate_rejection_reasons_on_the_run_page(screens, page):
    """#16.2: the rejected retrain run succeeded; the gate says "Rejected" and why."""
    dagster, contract = screens.dagster, screens.contract
    run = dagster.wait(
        "the retrain run", lambda: _finished_run(dagster, screens.retrain_run_id), RUN_S, 2.0
    )
    assert run["status"] == "SUCCESS", (run, dagster.tails())
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags.get("retrain/gate_verdict") == "rejected", tags
    page.goto(f"{dagster.base_url}/runs/{screens.retrain_run_id}")
    page.get_by_text("RUN_SUCCESS").first.wait_for()
    gate_step = f"{'__'.join(mk.candidate_model_key(contract).path)}_{mk.EVALUATION_GATE}"
    page.get_by_placeholder("Filter…").fill(f"step:{gate_step}")
    page.keyboard.press("Enter")
    reason = page.get_by_text(re.compile(r"below_minimum: recall_at_threshold of challenger"))
    reason.first.wait_for()
    page.get_by_text(re.compile(r"\*\*Rejected\*\*: .* is not deployed")).first.wait_for()
    page.get_by_text(f"Check {mk.EVALUATION_GATE} failed").first.wait_for()
    page.screenshot(path=str(shot("11-gate-rejected-run")))

    # the check itself: WARN (a warning, not an error), its description renders the reasons
    page.goto(asset_url(screens, mk.candidate_model_key(contract), "checks"))
    select_check(page, mk.EVALUATION_GATE)
    page.get_by_text("Rejected", exact=True).first.wait_for()
    page.get_by_text(re.compile(r"below_minimum: recall_at_threshold")).first.wait_for()
    links = page.locator(f'a[href^="{screens.mlflow_url}/#/experiments/"]')
    assert links.count() >= 1, "no mlflow_run_url link on the gate check"
    page.screenshot(path=str(shot("11-gate-check-rejected")))
    materialized = dagster.graphql(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run {
            assetMaterializations { assetKey { path } } } } }""",
        {"id": screens.retrain_run_id},
    )["runOrError"]["assetMaterializations"]
    paths = [m["assetKey"]["path"] for m in materialized]
    assert mk.registered_model_key(contract).path not in paths, paths
    assert mk.deployment_key(contract).path not in paths, paths


# -- GraphQL and HTTP probes ---------------------------------------------------------------------


def json_get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _ticked(dagster: Dagster, sensor: str) -> bool | None:
    data = dagster.graphql(
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
            sensorState { ticks(limit: 5) { status logKey } } } } }""",
        {"s": {**dagster.repository_selector(), "sensorName": sensor}},
    )
    ticks = data["sensorOrError"]["sensorState"]["ticks"]
    return True if any(t["status"] != "STARTED" and t["logKey"] for t in ticks) else None


def _finished_run(dagster: Dagster, run_id: str) -> dict | None:
    run = dagster.graphql(
        """query($id: ID!) { runOrError(runId: $id) {
            ... on Run { status tags { key value } } } }""",
        {"id": run_id},
    )["runOrError"]
    return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None
