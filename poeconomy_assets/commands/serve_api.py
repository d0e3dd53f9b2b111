"""``poeconomy serve-api``: a local POE Watch server (127.0.0.1 only) for the live sensors, demos and tests."""

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from poeconomy_assets.sim.live_market import DumpMarket, SimulatedMarket
from poeconomy_assets.sim.poe_watch_server import CONTROL_TOKEN_ENV, FAULT_KINDS, PoeWatchServer


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve-api", help="serve /leagues, /get, /history locally, with switchable faults"
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--dumps", type=Path, help="replay poe.ninja dumps instead of simulating a market")
    parser.add_argument("--currencies", type=int, default=10, help="simulated currencies (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--leagues-file", type=Path, help="a /leagues JSON to serve (e.g. the spec's fixtures)"
    )
    parser.add_argument(
        "--fixtures-dir",
        type=Path,
        help="folder whose files /_control may load with leagues_file (default: none, never reads)",
    )
    parser.add_argument("--now", help="simulated start time, ISO-8601 (default: now)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (0: frozen)"
    )
    parser.add_argument(
        "--recompute-seconds", type=int, default=3600, help="how often prices change (default hourly)"
    )
    return parser


def build_server(args: argparse.Namespace) -> PoeWatchServer:
    if args.dumps:
        market = DumpMarket(args.dumps)
    else:
        leagues = json.loads(args.leagues_file.read_text()) if args.leagues_file else None
        market = SimulatedMarket(
            n_currencies=args.currencies,
            seed=args.seed,
            leagues=leagues,
            recompute_seconds=args.recompute_seconds,
        )
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    return PoeWatchServer(market, now=now, speed=args.speed, port=args.port, fixtures_dir=args.fixtures_dir)


def run(args: argparse.Namespace) -> int:
    server = build_server(args)
    print(
        f"POE Watch (local) at {server.url}  — simulated time {server.clock.now():%Y-%m-%d %H:%M} UTC, "
        f"speed {args.speed:g}×",
        flush=True,
    )
    print(f"  point the project at it:  POECONOMY_POE_WATCH_URL={server.url}")
    print(
        f"  control token: {server.control_token}  (header X-Control-Token; set {CONTROL_TOKEN_ENV} to choose it)"
    )
    print(
        f"  faults: curl -H 'X-Control-Token: {server.control_token}' "
        f'-d \'{{"fault": {{"kind": "429", "times": 3, "retry_after": 2}}}}\' {server.url}/_control'
    )
    print(f"          kinds: {', '.join(FAULT_KINDS)};  clear: -d '{{\"clear_faults\": true}}'", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.stop()
    return 0
