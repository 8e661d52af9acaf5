"""`retrain-platform serve`: the prediction service of a contract's champion on uvicorn."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from retrain_platform.cli.options import add_contract_option, contract_from


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from retrain_platform.home import layout
    from retrain_platform.resources.feast import FeastResource
    from retrain_platform.resources.tracking import default_mlflow_resource
    from retrain_platform.serving.app import ServingSettings, create_app

    contract = contract_from(args)
    home = layout()
    mlflow = default_mlflow_resource(home)
    settings = ServingSettings(
        contract=contract,
        store=mlflow.store(),
        feast=FeastResource(),
        lake_uri=home.lake_uri,
        storage_options=home.lake_storage_options,
        model_name=mlflow.registry_model_name(contract),
        view_name=args.view,
        poll_seconds=args.poll_seconds,
        canary_share=args.canary_share,
        shadow=not args.no_shadow,
        stale=args.stale,
        max_feature_age=(
            timedelta(seconds=args.max_feature_age) if args.max_feature_age is not None else None
        ),
        lookup=args.lookup,
        freeze_heap=True,
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


def add_serve_command(subparsers: Any) -> None:
    """Add `serve` to the `retrain-platform` parser."""
    serve = subparsers.add_parser(
        "serve", help="serve the champion: POST /predict, GET /health, /metrics, /docs"
    )
    add_contract_option(serve)
    serve.add_argument("--view", help="feature view to serve (default: the contract's first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--poll-seconds",
        type=float,
        default=5.0,
        help="how often the registry aliases are checked (default 5)",
    )
    serve.add_argument(
        "--canary-share",
        type=float,
        default=0.0,
        help="share of entities routed to the `canary` alias (default 0)",
    )
    serve.add_argument(
        "--no-shadow", action="store_true", help="do not score the `challenger` alias in shadow"
    )
    serve.add_argument(
        "--stale",
        choices=["reject", "flag"],
        default="reject",
        help="online features older than allowed: 409 (reject) or answer flagged",
    )
    serve.add_argument(
        "--max-feature-age",
        type=float,
        help="seconds (default: policy.max_feature_age, else the view's ttl)",
    )
    serve.add_argument(
        "--lookup",
        choices=["direct", "feast"],
        default="direct",
        help="online store read: sqlite primary key (direct) or Feast's API",
    )
    serve.add_argument("--log-level", default="warning")
    serve.set_defaults(func=cmd_serve)
