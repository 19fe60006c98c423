"""The ASGI application: Neutron v2.0 routes, version discovery, health."""
from __future__ import annotations

import inspect
import time
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino.api import errors
from neutrino.api.agents import add_agent_routes
from neutrino.api.auth import Identity
from neutrino.api.auto_allocation import add_auto_allocation_routes
from neutrino.api.health import Health, SupervisorView, supervisor_metrics
from neutrino.api.ip_availability import add_ip_availability_routes
from neutrino.api.memory import tune_malloc
from neutrino.api.quotas import add_quota_routes
from neutrino.api.router_actions import add_router_actions
from neutrino.api.routes import build_router
from neutrino.api.tags import add_tag_routes
from neutrino.api.watch import EventHub
from neutrino.config import identity_problem
from neutrino.core.plugin import Plugin
from neutrino.metrics import API_LATENCY, exposition
from neutrino.policy import load_policy

EXTENSIONS = [
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    (
        "multi-provider",
        "Multi Provider Network",
        "Expose mapping of virtual networks to multiple physical networks",
    ),
    ("agent", "agent", "The agent management extension."),
    ("network-ip-availability", "Network IP Availability",
     "Provides IP availability data for each network and subnet."),
    ("network-ip-availability-details", "Network IP Availability Details",
     "Provides IP availability details for each network and subnet."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)",
     "Provides a writable MTU attribute for a network resource."),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard "
        "attributes.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("empty-string-filtering", "Empty string filtering",
     "A filter with an empty value matches attributes whose value is the empty string."),
    ("ip-substring-filtering", "IP address substring filtering",
     "Provides IP address substring filtering when listing ports"),
    ("port-mac-address-regenerate", "Port MAC address regenerate",
     "A port updated with mac_address null gets a new generated MAC address."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, network, port, "
        "security_group, subnetpool",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "tag-creation",
        "Tag support for resource creation",
        "Enables to set tags on resources at creation time.",
    ),
    ("rbac-policies", "RBAC Policies",
     "Allows creation and modification of policies that control project access to resources."),
    ("external-net", "Neutron external network", "Adds external network attribute to network "
     "resource."),
    ("subnet-external-network", "Subnet external network",
     "Informs if the subnet is associated to an external network"),
    ("auto-allocated-topology", "Auto Allocated Topology Services",
     "Auto Allocated Topology Services."),
    ("router", "Neutron L3 Router",
     "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to "
     "external networks via a NAT gateway."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode",
     "Extension of the router abstraction for specifying whether SNAT should occur on the "
     "external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("extraroute-atomic", "Atomically add/remove extra routes",
     "Edit extra routes of a router on server side by atomically adding/removing extra "
     "routes"),
    ("fip-port-details", "Floating IP Port Details Extension",
     "Add port_details attribute to Floating IP resource"),
    ("router-interface-fip", "Router interface FIP",
     "Allow router interfaces to be removed only if no floating IP uses them"),
    ("security-group", "security-group", "The security groups extension."),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    ("port-security", "Port Security", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs",
     "Provides allowed address pairs"),
    ("subnet-service-types", "Subnet service types",
     "Provides ability to set the subnet service_types field"),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("default-subnetpools", "Default Subnetpools",
     "Provides ability to mark and use a subnetpool as the default."),
    ("subnetpool-prefix-ops", "Subnet Pool Prefix Operations",
     "Provides support for adjusting the prefix list of subnet pools"),
    ("address-scope", "Address scope", "Address scopes extension."),
    ("rbac-subnetpool", "Add subnetpool RBAC policy support",
     "Add subnetpool RBAC policy support"),
    ("rbac-address-scope", "Add address_scope RBAC policy support",
     "Add address_scope RBAC policy support"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options",
     "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can "
     "be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    ("dns-domain-ports", "dns_domain for ports",
     "Allows the DNS domain to be specified for a network port."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
    ),
    (
        "quota-check-limit-default",
        "Quota engine limit check by default",
        "By default, the Neutron quota engine checks the resource usage before applying a new "
        "quota limit",
    ),
    (
        "neutrino-status-reason",
        "Status reasons",
        "Ports and networks carry status_reason saying why they are not ACTIVE.",
    ),
]


class BodySizeLimit:
    """Refuse bodies over the limit with 413, counting what arrives when no length is given.

    A body of unknown length is read here (at most *limit* bytes) and handed on
    whole: the framework turns any error raised while it reads into a 400.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    def _too_large(self) -> Response:
        return errors.error_response(
            413, "HTTPRequestEntityTooLarge",
            f"Request body is larger than the limit of {self.limit} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                await self._too_large()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.limit:
                await self._too_large()(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class RejectNul:
    """400 for a NUL character in the path or query: no database can compare against it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or "\x00" in unquote_plus(
                scope.get("query_string", b"").decode("latin-1"))):
            response = errors.error_response(
                400, "HTTPBadRequest", "NUL characters are not allowed in the request URL.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: Neutrino reports through Prometheus (``/metrics``).  FastAPI's own OpenTelemetry
#: hooks, where this FastAPI has them, otherwise check for configured providers on
#: every request: 6% of a port create's CPU.
NO_OTEL: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {})


class MeasureLatency:
    """Observe each request's latency by method, route template and status code.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs every
    request through extra tasks and memory streams, which cost more CPU than
    many of the requests themselves.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            API_LATENCY.labels(scope["method"], getattr(route, "path", "unmatched"),
                               str(status)).observe(time.perf_counter() - started)


def create_app(plugin: Plugin, supervisor: SupervisorView = lambda: None) -> FastAPI:
    """The app of one API worker; *supervisor*: its supervisor's view (:mod:`.health`)."""
    tune_malloc()
    # strict_content_type off: a body without Content-Type is JSON, as Neutron reads it
    # (tempest's and neutron-tempest-plugin's clients send updates so).
    app = FastAPI(**NO_OTEL, title="Neutrino", version="2.0", strict_content_type=False,
                  description="Neutron v2.0 compatible networking API for OVN")
    errors.install(app)
    # Routes go on the app's own router: an included router is matched twice per
    # request (the inclusion, then its routes), which cost 8% of a port create.
    problem = identity_problem(plugin.settings)
    if problem:
        raise ValueError(problem)
    policy = load_policy(plugin.settings.policy_file, plugin.settings.auth_strategy)
    build_router(plugin, policy, EventHub(plugin.db, plugin.doorbell), app.router)
    add_router_actions(app.router, plugin, policy)
    add_tag_routes(app.router, plugin, policy)
    add_quota_routes(app.router, plugin, policy)
    add_agent_routes(app.router, plugin, policy)
    add_ip_availability_routes(app.router, plugin, policy)
    add_auto_allocation_routes(app.router, plugin, policy)
    app.add_middleware(Identity, settings=plugin.settings, policy=policy)
    app.add_middleware(BodySizeLimit, limit=plugin.settings.max_request_body_size)
    app.add_middleware(RejectNul)
    app.state.plugin = plugin

    def version_doc(request: Request) -> dict[str, Any]:
        return {"id": "v2.0", "status": "CURRENT",
                "links": [{"href": str(request.base_url) + "v2.0/", "rel": "self"}]}

    @app.get("/", include_in_schema=False)
    def versions(request: Request) -> JSONResponse:
        return JSONResponse({"versions": [version_doc(request)]})

    @app.get("/v2.0", include_in_schema=False)
    @app.get("/v2.0/", include_in_schema=False)
    def resources(request: Request) -> JSONResponse:
        base = str(request.base_url) + "v2.0/"
        return JSONResponse({"resources": [
            {"name": name, "collection": coll, "links": [{"href": base + coll, "rel": "self"}]}
            for name, coll in (("network", "networks"), ("subnet", "subnets"),
                               ("port", "ports"), ("subnetpool", "subnetpools"),
                               ("address_scope", "address-scopes"),
                               ("rbac_policy", "rbac-policies"),
                               ("security_group", "security-groups"),
                               ("security_group_rule", "security-group-rules"),
                               ("router", "routers"), ("floatingip", "floatingips"),
                               ("agent", "agents"),
                               ("network_ip_availability", "network-ip-availabilities"))]})

    def extension_doc(alias: str, name: str, description: str) -> dict[str, Any]:
        return {"alias": alias, "name": name, "description": description, "links": [],
                "updated": "2026-01-01T00:00:00-00:00"}

    @app.get("/v2.0/extensions", tags=["extensions"])
    def extensions() -> JSONResponse:
        return JSONResponse({"extensions": [extension_doc(*e) for e in EXTENSIONS]})

    @app.get("/v2.0/extensions/{alias}", tags=["extensions"])
    def extension(alias: str) -> JSONResponse:
        found = next((e for e in EXTENSIONS if e[0] == alias), None)
        if found is None:
            return errors.error_response(404, "HTTPNotFound",
                                         f"Extension with alias {alias} does not exist")
        return JSONResponse({"extension": extension_doc(*found)})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition(
            lambda: plugin.mech.collect_metrics() + supervisor_metrics(supervisor()))
        return Response(body, media_type=content_type)

    app.add_middleware(MeasureLatency)

    health = Health(plugin, plugin.settings.healthz_details, supervisor)

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        return health.response()

    return app
