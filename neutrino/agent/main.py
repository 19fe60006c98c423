"""``neutrino plug-agent [OVS-DB-REMOTE]``: run the VIF plug agent for this chassis.

Like ovn-controller, the agent takes the local OVS database remote as its only
argument and reads its chassis name (``system-id``) and the SB remote
(``ovn-remote``) from that database's ``Open_vSwitch`` external_ids.
"""
from __future__ import annotations

import argparse
import signal
from importlib.metadata import PackageNotFoundError, version
from types import FrameType

from neutrino import log
from neutrino.agent.agent import DEFAULT_OVS_REMOTE, Agent, AgentConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ovs_remote", nargs="?", default=DEFAULT_OVS_REMOTE,
                        metavar="OVS-DB-REMOTE",
                        help=f"local OVS database (default: {DEFAULT_OVS_REMOTE})")
    parser.add_argument("--providers", default=None,
                        help="comma-separated provider types to load (default: all installed)")
    parser.add_argument("--resync-interval", type=float, default=30.0,
                        help="seconds between full reconcile passes (default: 30)")
    parser.add_argument("--report-interval", type=float, default=10.0,
                        help="seconds between heartbeats written to SB (default: 10)")
    parser.add_argument("--provider-timeout", type=float, default=2.0,
                        help="seconds to wait for a provider call (default: 2)")
    parser.add_argument("--provider-slow", type=float, default=0.1,
                        help="log provider calls slower than this many seconds (default: 0.1)")
    parser.add_argument("--log-level", default=None,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="default: $NEUTRINO_LOG_LEVEL or INFO (JSON lines on stderr)")


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    try:
        agent_version = version("neutrino")
    except PackageNotFoundError:
        agent_version = "unknown"
    providers = None
    if args.providers is not None:
        providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    return AgentConfig(ovs_remote=args.ovs_remote, providers=providers,
                       resync_interval=args.resync_interval,
                       report_interval=args.report_interval,
                       provider_timeout=args.provider_timeout,
                       provider_slow=args.provider_slow, version=agent_version)


def run(args: argparse.Namespace) -> int:
    log.setup(args.log_level)
    agent = Agent(config_from_args(args))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.run()
    return 0
