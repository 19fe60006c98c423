"""``neutrino plug-agent [OVS-DB-REMOTE ...]``: run the VIF plug agent.

Like ovn-controller, the agent takes the local OVS database remote as its
argument and reads its chassis name (``system-id``) and the SB remote
(``ovn-remote``) from that database's ``Open_vSwitch`` external_ids.

A real host has one chassis and runs one agent. Several remotes run one
:class:`Agent` per remote, each on its own thread with its own providers, in
one process: sandboxes and benchmarks that simulate many chassis on one
machine then pay for one Python interpreter instead of one per chassis.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from types import FrameType

from neutrino import log
from neutrino.agent.agent import DEFAULT_OVS_REMOTE, Agent, AgentConfig
from neutrino.agent.install_watch import DEFAULT_BOUND
from neutrino.log import fmt

LOG = logging.getLogger(__name__)

#: Agent threads are named this plus their OVS DB remote.
THREAD_PREFIX = "plug-agent:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ovs_remotes", nargs="*", default=[DEFAULT_OVS_REMOTE],
                        metavar="OVS-DB-REMOTE",
                        help=f"local OVS database of a chassis (default: {DEFAULT_OVS_REMOTE}); "
                             "several run one agent per chassis in this process")
    parser.add_argument("--providers", default=None,
                        help="comma-separated provider types to load (default: all installed)")
    parser.add_argument("--resync-interval", type=float, default=30.0,
                        help="seconds between full reconcile passes (default: 30)")
    parser.add_argument("--report-interval", type=float, default=30.0,
                        help="seconds between heartbeats written to SB (default: 30)")
    parser.add_argument("--provider-timeout", type=float, default=2.0,
                        help="seconds to wait for a provider call (default: 2)")
    parser.add_argument("--provider-slow", type=float, default=0.1,
                        help="log provider calls slower than this many seconds (default: 0.1)")
    parser.add_argument("--install-bound", type=float, default=DEFAULT_BOUND,
                        help="seconds a plugged port claimed by ovn-controller may go without "
                             "ovn-installed, while ovn-controller answers nb_cfg, before it is "
                             f"plugged again (default: {DEFAULT_BOUND:g})")
    parser.add_argument("--log-level", default=None,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="default: $NEUTRINO_LOG_LEVEL or INFO (JSON lines on stderr)")


def config_from_args(args: argparse.Namespace, ovs_remote: str) -> AgentConfig:
    try:
        agent_version = version("neutrino")
    except PackageNotFoundError:
        agent_version = "unknown"
    providers = None
    if args.providers is not None:
        providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    return AgentConfig(ovs_remote=ovs_remote, providers=providers,
                       resync_interval=args.resync_interval,
                       report_interval=args.report_interval,
                       provider_timeout=args.provider_timeout,
                       provider_slow=args.provider_slow, install_bound=args.install_bound,
                       version=agent_version)


class AgentTag(logging.Filter):
    """Appends ``agent=<OVS DB remote>`` to lines logged on an agent's thread, so
    the agents sharing one process and one log can be told apart. Must run before
    :class:`neutrino.log.RateLimit`, which would otherwise take the same line
    from two agents for a repeat."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.threadName and record.threadName.startswith(THREAD_PREFIX):
            remote = record.threadName[len(THREAD_PREFIX):]
            record.msg, record.args = record.getMessage() + fmt("", agent=remote), ()
        return True


def run_agents(agents: Sequence[Agent]) -> int:
    """Run every agent on its own thread until all have stopped.

    An agent that crashes stops the others: the process then exits with 1, so
    its supervisor restarts it, instead of living on with a chassis unserved.
    """
    crashed: list[str] = []

    def serve(agent: Agent) -> None:
        try:
            agent.run()
        except BaseException as exc:  # reported, and the exit status says so
            LOG.error(fmt("plug agent crashed; stopping the others", error=repr(exc)),
                      exc_info=True)
            crashed.append(agent.config.ovs_remote)
            for other in agents:
                other.stop()

    threads = [threading.Thread(target=serve, args=(agent,),
                                name=THREAD_PREFIX + agent.config.ovs_remote)
               for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if crashed:
        LOG.error(fmt("plug agents stopped after a crash", crashed=",".join(crashed)))
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    log.setup(args.log_level)
    remotes: list[str] = args.ovs_remotes
    if len(set(remotes)) != len(remotes):
        LOG.error(fmt("an OVS DB remote is given twice; two agents would fight over one "
                      "chassis", remotes=",".join(remotes)))
        return 2
    if len(remotes) > 1:
        for handler in logging.getLogger().handlers:
            handler.filters.insert(0, AgentTag())
    agents = [Agent(config_from_args(args, remote)) for remote in remotes]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        for agent in agents:
            agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run_agents(agents)
