"""CRUD routes of networks, subnets, subnet pools (and their prefix operations), address
scopes, ports, RBAC policies, security groups and their rules, and the status event stream.

Handlers only translate between HTTP and the core: wrapper keys, the
``tenant_id`` alias, ``If-Match``, ``fields=`` and page links.
"""

import functools
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from json import dumps
from typing import Any, cast

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import create_model
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from neutrino.api import schemas
from neutrino.api.auth import context_of
from neutrino.api.authz import Guard, caller
from neutrino.api.listing import Batches, list_query, page_links, select_fields
from neutrino.api.memory import RELEASE_AFTER, release_memory
from neutrino.api.watch import EventHub, event_stream, wait_for_status
from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.core.query import ListQuery
from neutrino.drivers.status import STATUSES
from neutrino.policy import Rules

IF_MATCH_RE = re.compile(r"^\s*revision_number=(\d+)\s*$")
DEFAULT_WAIT, MAX_WAIT = 30.0, 300.0
EVENT_FILTERS = ("resource", "resource_id", "project_id", "status")
#: What status events are about.
EVENT_RESOURCES = ("network", "port", "router", "floatingip")


def if_match_revision(value: str | None) -> int | None:
    if value is None:
        return None
    match = IF_MATCH_RE.match(value)
    if not match:
        raise exc.BadRequest(resource="request",
                             msg=f"If-Match header '{value}' must be revision_number=N")
    return int(match.group(1))


def _common(attrs: dict[str, Any]) -> dict[str, Any]:
    tenant = attrs.pop("tenant_id", None)
    if tenant is not None and attrs.setdefault("project_id", tenant) != tenant:
        raise exc.BadRequest(resource="request", msg="project_id and tenant_id do not match")
    return attrs


def network_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    attrs = _common(attrs)
    attrs.pop("availability_zone_hints", None)
    if "router:external" in attrs:
        attrs["external"] = attrs.pop("router:external")
    provider = {k.removeprefix("provider:"): attrs.pop(k) for k in list(attrs)
                if k.startswith("provider:")}
    if "segments" in attrs:
        attrs["segments"] = [{k.removeprefix("provider:"): v for k, v in s.items()}
                             for s in attrs["segments"]]
    elif provider.get("network_type") is not None:
        attrs["segments"] = [provider]  # else only nulls were given: a tenant network
    return attrs


def port_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    attrs = _common(attrs)
    if "binding:host_id" in attrs:
        attrs["binding:host_id"] = attrs["binding:host_id"] or ""
    if "binding:profile" in attrs:
        attrs["binding:profile"] = attrs["binding:profile"] or {}
    return attrs


def subnet_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return _common(attrs)


def subnetpool_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return _common(attrs)


def address_scope_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return _common(attrs)


def rbac_policy_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """``target_tenant`` is the API's name of what Neutron stores as ``target_project``."""
    attrs = _common(attrs)
    if "target_tenant" in attrs:
        attrs["target_project"] = attrs.pop("target_tenant")
    return attrs


def router_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    attrs = _common(attrs)
    attrs.pop("availability_zone_hints", None)
    return attrs


def floatingip_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return _common(attrs)


def security_group_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return _common(attrs)


def rule_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """A rule belongs to its group's project (the core decides); address groups are not
    supported, so their attribute can only have been ``null``."""
    attrs = _common(attrs)
    for ignored in ("project_id", "remote_address_group_id"):
        attrs.pop(ignored, None)
    return attrs


def json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def list_body(collection: str, items: list[dict], links: list[dict]) -> dict[str, Any]:
    body: dict[str, Any] = {collection: items}
    if links:
        body[f"{collection}_links"] = links
    return body


def render_batches(collection: str, batches: Batches, fields: list[str],
                   links: Callable[[list[dict], int, ListQuery], list[dict]],
                   view: Callable[[list[dict]], list[dict]]) -> Iterator[bytes]:
    """The JSON of :func:`list_body`, a batch at a time (*links*, :func:`page_links` of
    the request, can only be given at the end)."""
    yield b'{"' + collection.encode() + b'":['
    separator = b""
    for items in batches:
        shown = view(items)
        if shown:
            yield separator + _dumps([select_fields(i, fields) for i in shown])[1:-1]
            separator = b","
    yield b"]"
    page = links(batches.ends, batches.count, batches.query)
    if page:
        yield b',"' + collection.encode() + b'_links":' + _dumps(page)
    yield b"}"


def _dumps(data: Any) -> bytes:
    """JSON as :class:`JSONResponse` renders it."""
    return dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def policy_before_values(guard: Guard, verb: str, body: type[schemas.Wrapper],
                         model: type[schemas.Body],
                         show: Callable[..., dict[str, Any]] | None = None) -> Any:
    """A dependency of a create (or, with *show*, an update) route: Neutron checks whether
    the caller may set each attribute before it looks at the values, so a forbidden
    attribute is 403 whatever its value, and a permitted one with a bad value 400.

    FastAPI validates the body, once; a valid body is left to the route, whose check sees
    the validated values.  Only when validation fails does this look at the body: one
    naming an attribute that has rules of its own is judged on what was sent
    (:meth:`Guard.refuse_unvalidated`), and the 400 goes out only if that allows it."""
    restricted = guard.attributes(verb)
    one = guard.resource
    many = body.MANY if issubclass(body, schemas.OneOrMany) else None  # a bulk create's key

    async def check(request: Request) -> AsyncIterator[None]:
        try:
            yield
        except RequestValidationError:
            try:
                raw = await request.json()
            except ValueError:
                raw = None  # not JSON: the validation error says so
            items = (raw.get(many) if many in raw else [raw.get(one)]) \
                if isinstance(raw, dict) else None
            if isinstance(items, list) and all(isinstance(i, dict) for i in items) \
                    and any(restricted.intersection(i) for i in items):
                ctx = context_of(request.scope)
                stored = None
                if show is not None:
                    stored = functools.partial(show, ctx, request.path_params["item_id"])
                await run_in_threadpool(guard.refuse_unvalidated, ctx,
                                        [model.read_alone(i) for i in items], stored)
            raise
    return Depends(check)


def add_resource(router: APIRouter, plugin: Plugin, policy: Rules, name: str, collection: str,
                 create_model: type[schemas.Body], update_model: type[schemas.Body] | None,
                 translate: Callable[[dict[str, Any]], dict[str, Any]],
                 hub: EventHub | None = None) -> None:
    """Register list/create/show/update/delete of one resource type (without update if
    *update_model* is None: security group rules).

    Each call passes the caller's context to the core (which answers only with
    what the caller may see) and is checked against the policy (:class:`Guard`).
    With *hub*, show accepts ``wait_for_status``/``timeout`` (long-poll).
    """
    guard = Guard(policy, plugin, name)
    #: The key of a list's items: Neutron's collection name (``security_groups``), which
    #: the URL spells with dashes.
    items_key = collection.replace("-", "_")
    #: A resource the core creates in bulk takes ``{"<collection>": [...]}`` as well.
    create_bulk = getattr(plugin, f"create_{name}_bulk", None)
    create_body = create_model_for(name, create_model, "Create",
                                   many=items_key if create_bulk is not None else None)
    create = getattr(plugin, f"create_{name}")
    show = getattr(plugin, f"get_{name}")
    remove = getattr(plugin, f"delete_{name}")
    lister = getattr(plugin, f"list_{items_key}")
    max_limit = plugin.settings.pagination_max_limit

    @router.get(f"/v2.0/{collection}", name=f"list_{collection}", tags=[collection])
    def list_items(request: Request) -> Response:
        ctx = context_of(request.scope)
        who = caller(policy, ctx)
        fields = request.query_params.getlist("fields")
        query = list_query(request.query_params, max_limit)
        hidden = guard.unreadable(who, ctx)
        for key in hidden & set(query.sort_keys):  # the order would reveal the values
            raise exc.BadRequest(resource="list", msg=f"'{key}' is not a valid sort key")
        if hidden & set(query.filters):
            # Ignored, as if not given: Neutron applies such a filter (a member's
            # ?provider:network_type=vlan), which would tell which items have that value.
            query = replace(query, filters={k: v for k, v in query.filters.items()
                                            if k not in hidden})
        base_url = str(request.url.replace(query=""))
        view = guard.viewer(ctx, who)
        lister_of_ctx = functools.partial(lister, ctx)
        if Batches.apply_to(query):
            batches = Batches(lister_of_ctx, query)
            if not batches.complete:
                links = functools.partial(page_links, base_url, request.query_params)
                return StreamingResponse(render_batches(items_key, batches, fields, links, view),
                                         media_type="application/json",
                                         background=BackgroundTask(release_memory))
            items = next(iter(batches))
        else:
            items, _ = lister_of_ctx(query)
        # Links go by the page read (its size, its last item), as Neutron's.
        response = json(list_body(
            items_key, [select_fields(i, fields) for i in view(items)],
            page_links(base_url, request.query_params, items, len(items), query)))
        if len(items) >= RELEASE_AFTER:
            response.background = BackgroundTask(release_memory)
        return response

    @router.post(f"/v2.0/{collection}", name=f"create_{name}", tags=[collection], status_code=201,
                 dependencies=[policy_before_values(guard, "create", create_body, create_model)])
    def create_item(request: Request,
                    body: create_body) -> JSONResponse:  # type: ignore[valid-type]  # a run-time model
        ctx = context_of(request.scope)
        if create_bulk is None:
            attrs = getattr(body, name).attrs()
            who, target = guard.create(ctx, attrs)
            return json({name: guard.strip(who, target, create(ctx, translate(attrs)))}, 201)
        items, many = cast(schemas.OneOrMany, body).bodies()
        # Every item passes the policy before anything is written (Neutron's bulk).
        checked = guard.create_all(ctx, items)
        created = [guard.strip(who, target, item) for (who, target), item in
                   zip(checked, create_bulk(ctx, [translate(attrs) for attrs in items]),
                       strict=True)]
        return json({items_key: created} if many else {name: created[0]}, 201)

    @router.get(f"/v2.0/{collection}/{{item_id}}", name=f"show_{name}", tags=[collection])
    async def show_item(item_id: str, request: Request) -> JSONResponse:
        ctx = context_of(request.scope)
        params = request.query_params
        if hub is not None and "wait_for_status" in params:
            wanted, timeout = wait_params(params)
            item = await wait_for_status(hub, lambda: show(ctx, item_id), item_id, wanted, timeout)
        else:
            item = await run_in_threadpool(show, ctx, item_id)
        who, target = await run_in_threadpool(guard.show, ctx, item)
        return json({name: select_fields(guard.strip(who, target, item),
                                         params.getlist("fields"))})

    if update_model is not None:
        add_update(router, guard, name, collection, update_model, show,
                   getattr(plugin, f"update_{name}"), translate)

    @router.delete(f"/v2.0/{collection}/{{item_id}}", name=f"delete_{name}", tags=[collection],
                   status_code=204)
    def delete_item(request: Request, item_id: str,
                    if_match: str | None = Header(None)) -> Response:
        ctx = context_of(request.scope)
        revision = if_match_revision(if_match)
        guard.write(ctx, "delete", show(ctx, item_id), {})
        remove(ctx, item_id, revision)
        return Response(status_code=204)


def add_update(router: APIRouter, guard: Guard, name: str, collection: str,
               update_model: type[schemas.Body], show: Callable[..., dict[str, Any]],
               update: Callable[..., dict[str, Any]],
               translate: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    update_body = create_model_for(name, update_model, "Update")

    @router.put(f"/v2.0/{collection}/{{item_id}}", name=f"update_{name}", tags=[collection],
                dependencies=[policy_before_values(guard, "update", update_body, update_model,
                                                   show)])
    def update_item(request: Request, item_id: str,
                    body: update_body,  # type: ignore[valid-type]  # a run-time model
                    if_match: str | None = Header(None)) -> JSONResponse:
        ctx = context_of(request.scope)
        attrs = getattr(body, name).attrs()
        revision = if_match_revision(if_match)
        who, target = guard.write(ctx, "update", show(ctx, item_id), attrs)
        return json({name: guard.strip(who, target,
                                       update(ctx, item_id, translate(attrs), revision))})


def add_prefix_operations(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    """``PUT /v2.0/subnetpools/{id}/add_prefixes`` and ``…/remove_prefixes``
    (``subnetpool-prefix-ops``): ``{"prefixes": [...]}`` in, the pool's prefixes out."""
    guard = Guard(policy, plugin, "subnetpool")

    def operation(action: str) -> Callable[..., JSONResponse]:
        change = getattr(plugin, action)

        def handle(request: Request, item_id: str, body: schemas.PrefixList) -> JSONResponse:
            ctx = context_of(request.scope)
            guard.act(ctx, action, plugin.get_subnetpool(ctx, item_id))
            return json({"prefixes": change(ctx, item_id, body.prefixes)})
        return handle

    for action in ("add_prefixes", "remove_prefixes"):
        router.add_api_route(f"/v2.0/subnetpools/{{item_id}}/{action}", operation(action),
                             methods=["PUT"], name=action, tags=["subnetpools"])


def create_model_for(name: str, model: type[schemas.Body], verb: str,
                     many: str | None = None) -> type[schemas.Wrapper]:
    """The wrapper body ``{"<name>": {...}}`` Neutron requests use; with *many* (the
    collection's key) also a bulk create's ``{"<many>": [{...}, ...]}``."""
    title = "".join(word.capitalize() for word in name.split("_"))
    if many is None:
        fields: dict[str, Any] = {name: (model, ...)}
        return create_model(f"{title}{verb}Request", __base__=schemas.Wrapper, **fields)
    fields = {name: (model, schemas.ABSENT), many: (list[model], schemas.ABSENT)}  # type: ignore[valid-type]
    body = create_model(f"{title}{verb}Request", __base__=schemas.OneOrMany, **fields)
    body.ONE, body.MANY = name, many
    return body


def wait_params(params: Any) -> tuple[str, float]:
    wanted = params["wait_for_status"]
    if wanted not in STATUSES:
        raise exc.InvalidInput(error_message=(
            f"wait_for_status must be one of {', '.join(STATUSES)}, not '{wanted}'"))
    try:
        timeout = float(params.get("timeout", DEFAULT_WAIT))
    except ValueError:
        timeout = -1.0
    if not 0 <= timeout <= MAX_WAIT:
        raise exc.InvalidInput(
            error_message=f"timeout must be a number of seconds in 0..{MAX_WAIT:g}")
    return wanted, timeout


def event_filter(ctx: Context, params: Any) -> Callable[[dict[str, Any]], bool]:
    """``resource``, ``resource_id``, ``project_id``, ``status`` filters; repeated keys OR.

    A caller that does not see every project gets only its own project's events.
    """
    wanted = {k: set(params.getlist(k)) for k in EVENT_FILTERS if k in params}
    unknown = set(params) - set(EVENT_FILTERS)
    if unknown:
        raise exc.BadRequest(resource="events", msg=f"'{sorted(unknown)[0]}' is not a valid filter")
    for key, allowed in (("resource", EVENT_RESOURCES), ("status", STATUSES)):
        bad = sorted(wanted.get(key, set()) - set(allowed))
        if bad:
            raise exc.BadRequest(resource="events", msg=f"'{bad[0]}' is not a valid {key}: "
                                 f"one of {', '.join(allowed)}")
    if not ctx.sees_all_projects:
        wanted["project_id"] = wanted.get("project_id", {ctx.project_id}) & {ctx.project_id}
    return lambda event: all(event[k] in values for k, values in wanted.items())


def build_router(plugin: Plugin, policy: Rules, hub: EventHub,
                 router: APIRouter | None = None) -> APIRouter:
    """The API's routes, on *router* (e.g. the app's own, see ``create_app``) or a new one."""
    router = router if router is not None else APIRouter()
    add_resource(router, plugin, policy, "network", "networks", schemas.NetworkCreate,
                 schemas.NetworkUpdate, network_attrs)
    add_resource(router, plugin, policy, "subnet", "subnets", schemas.SubnetCreate,
                 schemas.SubnetUpdate, subnet_attrs)
    add_resource(router, plugin, policy, "subnetpool", "subnetpools", schemas.SubnetPoolCreate,
                 schemas.SubnetPoolUpdate, subnetpool_attrs)
    add_prefix_operations(router, plugin, policy)
    add_resource(router, plugin, policy, "address_scope", "address-scopes",
                 schemas.AddressScopeCreate, schemas.AddressScopeUpdate, address_scope_attrs)
    add_resource(router, plugin, policy, "port", "ports", schemas.PortCreate, schemas.PortUpdate,
                 port_attrs, hub)
    add_resource(router, plugin, policy, "rbac_policy", "rbac-policies", schemas.RbacPolicyCreate,
                 schemas.RbacPolicyUpdate, rbac_policy_attrs)
    add_resource(router, plugin, policy, "security_group", "security-groups",
                 schemas.SecurityGroupCreate, schemas.SecurityGroupUpdate, security_group_attrs)
    add_resource(router, plugin, policy, "security_group_rule", "security-group-rules",
                 schemas.SecurityGroupRuleCreate, None, rule_attrs)
    add_resource(router, plugin, policy, "router", "routers", schemas.RouterCreate,
                 schemas.RouterUpdate, router_attrs)
    add_resource(router, plugin, policy, "floatingip", "floatingips", schemas.FloatingIPCreate,
                 schemas.FloatingIPUpdate, floatingip_attrs)

    @router.get("/v2.0/events", tags=["events"])
    async def events(request: Request,
                     last_event_id: str | None = Header(None)) -> StreamingResponse:
        """Server-Sent Events of status changes (Neutrino extension)."""
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
        stream = event_stream(hub, event_filter(context_of(request.scope), request.query_params),
                              after)
        return StreamingResponse(stream, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return router
