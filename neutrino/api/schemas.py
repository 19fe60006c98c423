"""Request bodies of the Neutron v2.0 API as pydantic models.

Unknown attributes are refused (``extra="forbid"``) and every field is
checked for type and syntax here; whether a value makes sense with the rest
of the system (an IP inside its subnet, a free VLAN) is the core's job.
The models also give the OpenAPI document clients and fuzzers read.
"""
from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from neutrino.drivers import dns

MAC_RE = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
VnicType = Literal["normal", "direct", "macvtap", "baremetal", "direct-physical",
                   "virtio-forwarder", "smart-nic", "remote-managed"]
VNIC_TYPES: tuple[str, ...] = get_args(VnicType)
NetworkType = Literal["local", "flat", "vlan", "geneve"]
NETWORK_TYPES: tuple[str, ...] = get_args(NetworkType)
MAX_ID = 2**31 - 1
#: Neutron's limit on physical network names (neutron_lib PHYSICAL_NETWORK_MAX_LEN).
PHYSNET_MAX_LEN = 64


def _mac(value: str) -> str:
    if not MAC_RE.match(value):
        raise ValueError(f"'{value}' is not a valid MAC address")
    mac = value.lower().replace("-", ":")
    if int(mac[:2], 16) & 1:
        raise ValueError(f"'{value}' is a multicast MAC address")
    if mac == "00:00:00:00:00:00":
        raise ValueError(f"'{value}' is not a valid MAC address")
    return mac


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP address") from None


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP subnet") from None
    return value


#: How deeply JSON values (``binding:profile``) may nest; real profiles are flat.
MAX_DEPTH = 32


def _storable(value: Any, depth: int = 0) -> Any:
    """Refuse what no database can store or JSON render: NUL characters, lone surrogates
    (JSON's ``"\\ud800"``: not Unicode text), NaN and infinities, absurd nesting."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("strings must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            raise ValueError(f"values may nest at most {MAX_DEPTH} levels deep")
        for item in value.items() if isinstance(value, dict) else value:
            if isinstance(item, tuple):
                _storable(item[0], depth + 1)
                _storable(item[1], depth + 1)
            else:
                _storable(item, depth + 1)
    return value


def _int(value: Any) -> Any:
    """neutron-lib's ``convert_to_int`` before a check of values: ``"4"`` is 4."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value  # refused by the type that follows, with its message
    return value


Name = Annotated[str, StringConstraints(max_length=255)]
Physnet = Annotated[str, StringConstraints(max_length=PHYSNET_MAX_LEN)]
# The OpenAPI document names the formats, so clients and fuzzers know what is expected.
Mac = Annotated[str, AfterValidator(_mac), WithJsonSchema({"type": "string", "format": "mac"})]
IP = Annotated[str, AfterValidator(_ip), WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]})]
Cidr = Annotated[str, AfterValidator(_cidr), WithJsonSchema({"type": "string", "format": "cidr"})]
UUIDish = Annotated[str, StringConstraints(min_length=1, max_length=36)]
#: neutron-lib's ``type:uuid``: where Neutron refuses anything else with 400.
UUID = Annotated[str, StringConstraints(
    pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")]
#: neutron-lib's ``type:non_negative`` (numeric strings converted, as its ``convert_to_int``).
Quantity = Annotated[int, Field(ge=0, le=MAX_ID)]
PrefixLength = Annotated[int, Field(ge=0, le=128)]
SegmentationId = Annotated[int, Field(ge=0, le=MAX_ID)]
#: neutron-lib's tag: a string of 1..255 characters (``tagging.MAX_TAG_LEN``).
Tag = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _none_is_empty(value: Any) -> Any:
    """neutron-lib's ``convert_none_to_empty_list``: ``null`` is the empty list."""
    return [] if value is None else value


def _unique(items: list[str]) -> list[str]:
    """Neutron refuses a list of tags or of ids naming one twice
    (``validate_list_of_unique_strings``, ``validate_uuid_list``)."""
    twice = sorted(t for t, n in Counter(items).items() if n > 1)
    if twice:
        raise ValueError(f"Duplicate items in the list: '{', '.join(twice)}'")
    return items


Tags = Annotated[list[Tag], AfterValidator(_unique)]


class Wrapper(BaseModel):
    """A request's outer object, ``{"<resource>": {...}}``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


#: The type of a body error whose message is Neutron's own for it, given as it is.
REQUEST_BODY_ERROR = "request_body"


class OneOrMany(Wrapper):
    """A create's outer object: ``{"<resource>": {...}}``, or a bulk create's
    ``{"<collection>": [{...}, ...]}`` (Neutron's ``prepare_request_body``).  Subclasses
    (:func:`neutrino.api.routes.create_model_for`) declare both, under :attr:`ONE` and
    :attr:`MANY`, with no default."""

    ONE: ClassVar[str]
    MANY: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # refused as a malformed body
        if cls.MANY in data:
            if cls.ONE in data:
                raise PydanticCustomError(REQUEST_BODY_ERROR, "A request body has either "
                                          f"'{cls.ONE}' or '{cls.MANY}', not both.")
            if data[cls.MANY] == []:
                raise PydanticCustomError(REQUEST_BODY_ERROR, "Resources required")
            if isinstance(data[cls.MANY], list):
                # An item may come wrapped, {"<resource>": {...}}, as Neutron takes it
                # (tempest's bulk security groups are sent so).
                data = {**data, cls.MANY: [
                    item[cls.ONE] if isinstance(item, dict) and set(item) == {cls.ONE}
                    else item for item in data[cls.MANY]]}
        elif cls.ONE not in data:
            raise PydanticCustomError(REQUEST_BODY_ERROR, f"Resource body required: "
                                      f"'{cls.ONE}' is missing from the request body.")
        return data

    def bodies(self) -> tuple[list[dict[str, Any]], bool]:
        """The attributes of each resource to create, and whether the request was a bulk
        one (answered with a list)."""
        many = getattr(self, self.MANY)
        if many is not None:
            return [body.attrs() for body in many], True
        return [getattr(self, self.ONE).attrs()], False


#: The default of an attribute that may be left out but not sent as ``null``
#: (see :class:`Body`): ``None``, typed ``Any`` so the attribute's type can exclude it.
ABSENT: Any = None


#: Attributes every resource with standard attributes shows and no update takes.
STANDARD_READ_ONLY = frozenset({"id", "project_id", "tenant_id", "created_at", "updated_at",
                                "revision_number"})
#: Those of a resource with tags, which are set through their own calls.
TAGGED_READ_ONLY = STANDARD_READ_ONLY | {"tags"}


class Body(Wrapper):
    """Base of request bodies.

    An attribute typed without ``None`` but defaulting to ``None`` (``ABSENT``)
    may be left out yet not sent as ``null``: pydantic does not validate defaults.
    """

    #: Of an update body: the resource's attributes it does not take.  Sending one is
    #: Neutron's "Cannot update read-only attribute", where an attribute the resource
    #: does not have is "Unrecognized attribute(s)" (both 400).
    READ_ONLY: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _not_read_only(cls, data: Any) -> Any:
        fixed = sorted(cls.READ_ONLY.intersection(data)) if isinstance(data, dict) else []
        if fixed:
            raise PydanticCustomError(REQUEST_BODY_ERROR,
                                      "Cannot update read-only attribute {name}",
                                      {"name": fixed[0]})
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _storable_values(cls, value: Any) -> Any:
        return _storable(value)

    def attrs(self) -> dict[str, Any]:
        """Only what the client sent, keyed by API attribute name."""
        return self.model_dump(exclude_unset=True, by_alias=True)

    @classmethod
    def read_alone(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """*raw* (a request's object before validation) keyed by API attribute name, each
        value as this model reads it on its own where it can (``"true"`` is ``True``), else
        as sent: what the policy judges before the body is validated (Neutron checks a
        caller may set an attribute before it looks at its value)."""
        fields = _field_readers(cls)
        values = {}
        for key, value in raw.items():
            name, reader = fields.get(key, (key, None))
            try:
                values[name] = value if reader is None else reader.dump_python(
                    reader.validate_python(value), by_alias=True, exclude_unset=True)
            except ValidationError:
                values[name] = value
        return values


@functools.cache
def _field_readers(model: type[Body]) -> dict[str, tuple[str, TypeAdapter[Any]]]:
    """Each field of *model* by its API name and its Python name (both are accepted), with
    its API name and a reader of its type alone."""
    readers: dict[str, tuple[str, TypeAdapter[Any]]] = {}
    for name, field in model.model_fields.items():
        # Any: pydantic's own annotation of ``field.annotation`` changes between releases.
        kind: Any = (Annotated[(field.annotation, *field.metadata)] if field.metadata
                     else field.annotation)
        entry: tuple[str, TypeAdapter[Any]] = (field.alias or name, TypeAdapter(kind))
        readers[name] = readers[field.alias or name] = entry
    return readers


class TagsBody(Body):
    """``PUT /{resources}/{id}/tags``: the whole new set, unwrapped (as Neutron's)."""

    tags: Tags


class Tagged(Body):
    """Create bodies of tagged resources: tags may be given at once (``tag-creation``)."""

    tags: Tags = None  # type: ignore[assignment]


class Segment(Body):
    network_type: NetworkType = Field(alias="provider:network_type")
    physical_network: Physnet | None = Field(None, alias="provider:physical_network")
    segmentation_id: SegmentationId | None = Field(None, alias="provider:segmentation_id")


#: neutron-lib's ``DNS_LABEL_REGEX`` (its keywords aside).
_DNS_LABEL = re.compile(r"^[a-z0-9-]{1,63}$")


def _lower(value: Any) -> Any:
    """neutron-lib's ``convert_string_to_case_insensitive``: DNS names are lower case."""
    return value.lower() if isinstance(value, str) else value


def _dns_format(value: str) -> str:
    """neutron-lib's ``_validate_dns_format``: labels of letters, digits and inner hyphens,
    an optional final dot (an FQDN), no all-numeric top-level label."""
    if not value:
        return value
    trimmed = value[:-1] if value.endswith(".") else value
    reason = None
    labels = trimmed.split(".")
    if len(trimmed) > dns.FQDN_MAX_LEN:
        reason = f"'{trimmed}' exceeds the {dns.FQDN_MAX_LEN} character FQDN limit"
    elif any(not label for label in labels):
        reason = "Encountered an empty component"
    elif bad := next((label for label in labels if label[0] == "-" or label[-1] == "-"), None):
        reason = f"Name '{bad}' must not start or end with a hyphen"
    elif bad := next((label for label in labels if not _DNS_LABEL.match(label)), None):
        reason = (f"Name '{bad}' must be 1-63 characters long, each of which can only be "
                  "alphanumeric or a hyphen")
    elif len(labels) > 1 and labels[-1].isdigit():
        reason = f"TLD '{labels[-1]}' must not be all numeric"
    if reason:
        raise ValueError(f"'{value}' not a valid PQDN or FQDN. Reason: {reason}")
    return value


def _room_for_more(value: str, *, fqdn: bool, room: int, added: str) -> str:
    """neutron-lib's check of a DNS name that Neutron later adds to: an FQDN (a domain,
    to which a sub-domain is added) or a relative name (a floating IP's, to which a
    domain is added), at least *room* characters short of the FQDN limit."""
    if not value:
        return value
    if value.endswith(".") != fqdn:
        raise ValueError(f"'{value}' is not a FQDN" if fqdn else
                         f"'{value}' is a FQDN. It should be a relative domain name")
    _dns_format(value)
    if len(value) > dns.FQDN_MAX_LEN - room:
        raise ValueError(f"'{value}' contains {len(value)} characters. Adding {added} "
                         f"will cause it to exceed the maximum length of a FQDN of "
                         f"'{dns.FQDN_MAX_LEN}'")
    return value


def _dns_domain(value: str) -> str:
    """neutron-lib's ``validate_dns_domain``."""
    return _room_for_more(value, fqdn=True, room=2, added="a sub-domain")


def _fip_dns_name(value: str) -> str:
    """neutron-lib's ``validate_fip_dns_name``."""
    return _room_for_more(value, fqdn=False, room=3, added="a domain name")


#: A port's ``dns_name`` (``dns-integration``): a hostname label or an FQDN.  How long it
#: may be with the configured domain is the core's check (it knows the setting).
DnsName = Annotated[str, BeforeValidator(_lower), AfterValidator(_dns_format)]
#: A network's or port's ``dns_domain``.
DnsDomain = Annotated[str, BeforeValidator(_lower), AfterValidator(_dns_domain)]
#: A floating IP's ``dns_name``: relative, its domain is its ``dns_domain``.
FipDnsName = Annotated[str, BeforeValidator(_lower), AfterValidator(_fip_dns_name)]


class NetworkCreate(Tagged):
    name: Name = ""
    description: Name = ""
    admin_state_up: bool = True
    shared: bool = False
    mtu: Annotated[int, Field(ge=0, le=65535)] = ABSENT
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT
    network_type: NetworkType = Field(ABSENT, alias="provider:network_type")
    physical_network: Physnet | None = Field(None, alias="provider:physical_network")
    segmentation_id: SegmentationId | None = Field(None, alias="provider:segmentation_id")
    segments: list[Segment] = Field(ABSENT, min_length=1)
    router_external: bool = Field(False, alias="router:external")
    #: ``auto-allocated-topology``: the default external network (an external one only).
    is_default: bool = False
    port_security_enabled: bool = True
    dns_domain: DnsDomain = ""
    # Accepted for client compatibility, fixed values in Neutrino.
    availability_zone_hints: list[Name] = Field(ABSENT, max_length=0)

    @model_validator(mode="after")
    def _one_segment_form(self) -> NetworkCreate:
        if self.segments is not None and self.network_type is not None:
            raise ValueError("provider:* attributes and segments cannot be used together")
        if self.network_type is None and (self.physical_network
                                          or self.segmentation_id is not None):
            raise ValueError("provider:network_type is required with other provider:* attributes")
        return self


class NetworkUpdate(Body):
    READ_ONLY = TAGGED_READ_ONLY | {"status", "subnets"}

    name: Name = ABSENT
    description: Name = ABSENT
    admin_state_up: bool = ABSENT
    shared: bool = ABSENT
    mtu: Annotated[int, Field(ge=0, le=65535)] = ABSENT
    router_external: bool = Field(ABSENT, alias="router:external")
    is_default: bool = ABSENT
    port_security_enabled: bool = ABSENT
    dns_domain: DnsDomain = ABSENT


class Pool(Body):
    start: IP
    end: IP


class HostRoute(Body):
    destination: Cidr
    nexthop: IP


class SubnetCreate(Tagged):
    network_id: UUIDish
    #: Without it, ``subnetpool_id`` or ``use_default_subnetpool`` allocates one.
    cidr: Cidr = ABSENT
    ip_version: Annotated[Literal[4, 6], BeforeValidator(_int)] = ABSENT
    subnetpool_id: UUID | None = None
    prefixlen: PrefixLength = ABSENT
    use_default_subnetpool: bool = False
    name: Name = ""
    description: Name = ""
    gateway_ip: IP | None = None
    allocation_pools: list[Pool] = ABSENT
    enable_dhcp: bool = True
    dns_nameservers: Annotated[list[IP], Field(max_length=5)] = []
    host_routes: Annotated[list[HostRoute], Field(max_length=20)] = []
    ipv6_ra_mode: Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"] | None = None
    ipv6_address_mode: Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"] | None = None
    #: ``subnet-service-types``: the device owners the subnet gives addresses to.
    service_types: list[Name] = []
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


class SubnetUpdate(Body):
    READ_ONLY = TAGGED_READ_ONLY | {"network_id", "ip_version", "cidr", "subnetpool_id",
                                    "prefixlen", "ipv6_ra_mode", "ipv6_address_mode",
                                    "use_default_subnetpool"}

    name: Name = ABSENT
    description: Name = ABSENT
    gateway_ip: IP | None = None
    allocation_pools: list[Pool] = ABSENT
    enable_dhcp: bool = ABSENT
    dns_nameservers: Annotated[list[IP], Field(max_length=5)] = ABSENT
    host_routes: Annotated[list[HostRoute], Field(max_length=20)] = ABSENT
    service_types: list[Name] = ABSENT


class SubnetPoolCreate(Tagged):
    name: Name = ""
    description: Name = ""
    prefixes: list[Cidr]
    default_prefixlen: PrefixLength = ABSENT
    min_prefixlen: PrefixLength = ABSENT
    max_prefixlen: PrefixLength = ABSENT
    is_default: bool = False
    shared: bool = False
    default_quota: Quantity | None = None
    address_scope_id: UUID | None = None
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


class SubnetPoolUpdate(Body):
    """``shared`` is fixed at create: sending it is refused (400), as by Neutron."""

    READ_ONLY = TAGGED_READ_ONLY | {"shared", "ip_version"}

    name: Name = ABSENT
    description: Name = ABSENT
    prefixes: list[Cidr] = ABSENT
    default_prefixlen: PrefixLength = ABSENT
    min_prefixlen: PrefixLength = ABSENT
    max_prefixlen: PrefixLength = ABSENT
    is_default: bool = ABSENT
    default_quota: Quantity | None = ABSENT
    address_scope_id: UUID | None = ABSENT


class PrefixList(Wrapper):
    """``PUT /subnetpools/{id}/add_prefixes`` and ``remove_prefixes`` (unwrapped)."""

    prefixes: list[Cidr]


class AddressScopeCreate(Body):
    name: Name = ""
    description: Name = ""
    ip_version: Annotated[Literal[4, 6], BeforeValidator(_int)]
    shared: bool = False
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


class AddressScopeUpdate(Body):
    READ_ONLY = STANDARD_READ_ONLY | {"ip_version"}

    name: Name = ABSENT
    description: Name = ABSENT
    shared: bool = ABSENT


class FixedIP(Body):
    subnet_id: UUIDish | None = None
    ip_address: IP | None = None

    @model_validator(mode="after")
    def _something(self) -> FixedIP:
        if self.subnet_id is None and self.ip_address is None:
            raise ValueError("a fixed_ips entry needs subnet_id or ip_address")
        return self


class AddressPair(Body):
    """An allowed address pair: an address or CIDR, and the MAC it may come from (the
    port's own when left out)."""

    ip_address: Cidr
    mac_address: Mac = ABSENT


def _distinct_pairs(pairs: list[AddressPair]) -> list[AddressPair]:
    """Neutron's ``DuplicateAddressPairInRequest``."""
    seen = set()
    for pair in pairs:
        key = (pair.ip_address, pair.mac_address)
        if key in seen:
            raise ValueError(f"Request contains duplicate address pair: mac_address "
                             f"{pair.mac_address} ip_address {pair.ip_address}.")
        seen.add(key)
    return pairs


#: Neutron's default ``max_allowed_address_pair`` is 10.
AddressPairs = Annotated[list[AddressPair], Field(max_length=10),
                         AfterValidator(_distinct_pairs)]


#: neutron-lib's VALID_BLANK_EXTRA_DHCP_OPTS: the options whose value may be empty.
BLANKABLE_DHCP_OPTS = ("router", "classless-static-route")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError(f"'{value}' Blank strings are not permitted")
    return value


class ExtraDhcpOpt(Body):
    """One extra DHCP option of a port (neutron-lib's ``EXTRA_DHCP_OPT_KEY_SPECS``): a name
    or option number, its value (``null`` on update: remove it) and its IP version."""

    opt_name: Annotated[str, StringConstraints(max_length=64), AfterValidator(_not_blank)]
    opt_value: Annotated[str, StringConstraints(max_length=255)] | None
    ip_version: Annotated[Literal[4, 6], BeforeValidator(_int)] = ABSENT

    @model_validator(mode="after")
    def _value_not_blank(self) -> ExtraDhcpOpt:
        if self.opt_value is not None and self.opt_name not in BLANKABLE_DHCP_OPTS:
            _not_blank(self.opt_value)
        return self


def _distinct_opts(opts: list[ExtraDhcpOpt] | None) -> list[ExtraDhcpOpt] | None:
    """One entry per option name and IP version (Neutron's table allows no second)."""
    seen = set()
    for opt in opts or []:
        key = (opt.opt_name, opt.ip_version or 4)
        if key in seen:
            raise ValueError(f"Duplicate extra DHCP option {opt.opt_name} for IPv{key[1]}")
        seen.add(key)
    return opts


ExtraDhcpOpts = Annotated[list[ExtraDhcpOpt] | None, AfterValidator(_distinct_opts)]


class PortSecurity(Body):
    """What ports and groups share: port security, groups, allowed address pairs."""

    port_security_enabled: bool = ABSENT
    #: neutron-lib's ``uuid_list``: a group named twice is refused (400); ``null`` is no
    #: group, as Neutron converts it (``convert_none_to_empty_list``).
    security_groups: Annotated[list[UUIDish], BeforeValidator(_none_is_empty),
                               AfterValidator(_unique)] = ABSENT
    allowed_address_pairs: AddressPairs = ABSENT


class PortBinding(Body):
    host_id: Name | None = Field(None, alias="binding:host_id")
    vnic_type: VnicType = Field(ABSENT, alias="binding:vnic_type")
    profile: dict[str, Any] | None = Field(None, alias="binding:profile")


class PortCreate(PortBinding, PortSecurity, Tagged):
    network_id: UUIDish
    extra_dhcp_opts: ExtraDhcpOpts = None
    dns_name: DnsName = ""
    dns_domain: DnsDomain = ""
    name: Name = ""
    description: Name = ""
    admin_state_up: bool = True
    mac_address: Mac = ABSENT
    fixed_ips: list[FixedIP] = ABSENT
    device_id: Name = ""
    device_owner: Name = ""
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


class PortUpdate(PortBinding, PortSecurity):
    READ_ONLY = TAGGED_READ_ONLY | {"network_id", "status", "dns_assignment",
                                    "binding:vif_type", "binding:vif_details"}

    extra_dhcp_opts: ExtraDhcpOpts = None
    dns_name: DnsName = ABSENT
    dns_domain: DnsDomain = ABSENT
    name: Name = ABSENT
    description: Name = ABSENT
    admin_state_up: bool = ABSENT
    #: ``null`` asks for a new generated MAC (``port-mac-address-regenerate``).
    mac_address: Mac | None = ABSENT
    fixed_ips: list[FixedIP] = ABSENT
    device_id: Name = ABSENT
    device_owner: Name = ABSENT


class GatewayInfo(Body):
    """A router's ``external_gateway_info`` (``ext-gw-mode``: ``enable_snat``)."""

    network_id: UUIDish
    enable_snat: bool = ABSENT
    external_fixed_ips: list[FixedIP] = ABSENT


def _empty_is_none(value: Any) -> Any:
    """``{}`` is no gateway, as neutron-lib's ``dict_or_nodata``."""
    return None if value == {} else value


#: Extra routes (``extraroute``): Neutron's ``max_routes`` default.
Routes = Annotated[list[HostRoute], Field(max_length=30)]


class RouterCreate(Tagged):
    name: Name = ""
    description: Name = ""
    admin_state_up: bool = True
    external_gateway_info: Annotated[GatewayInfo | None, BeforeValidator(_empty_is_none)] = None
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT
    # Accepted for client compatibility, fixed values in Neutrino.
    availability_zone_hints: list[Name] = Field(ABSENT, max_length=0)


class RouterUpdate(Body):
    READ_ONLY = TAGGED_READ_ONLY | {"status"}

    name: Name = ABSENT
    description: Name = ABSENT
    admin_state_up: bool = ABSENT
    external_gateway_info: Annotated[GatewayInfo | None, BeforeValidator(_empty_is_none)] = None
    #: ``null`` clears them, as neutron-lib's ``convert_none_to_empty_list``.
    routes: Annotated[Routes, BeforeValidator(_none_is_empty)] = ABSENT


class RouterInterface(Body):
    """The unwrapped body of ``add_router_interface`` / ``remove_router_interface``
    (ids checked as UUIDs, as Neutron's ``_validate_interface_info``)."""

    subnet_id: UUID = ABSENT
    port_id: UUID = ABSENT


class RouterRoutes(Body):
    """``{"router": {"routes": [...]}}`` of ``add_extraroutes`` / ``remove_extraroutes``."""

    routes: Routes


class FloatingIPCreate(Tagged):
    floating_network_id: UUIDish
    floating_ip_address: IP = ABSENT
    subnet_id: UUIDish = ABSENT
    port_id: UUIDish | None = None
    fixed_ip_address: IP | None = None
    description: Name = ""
    #: ``dns-integration``: given at create only (Neutron's ``allow_put`` is False).
    dns_name: FipDnsName = ""
    dns_domain: DnsDomain = ""
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


class FloatingIPUpdate(Body):
    READ_ONLY = TAGGED_READ_ONLY | {"status", "floating_network_id", "floating_ip_address",
                                    "subnet_id", "router_id", "dns_name", "dns_domain"}

    port_id: UUIDish | None = ABSENT
    fixed_ip_address: IP | None = ABSENT
    description: Name = ABSENT


#: Whom a policy grants access to: ``*`` (every project) or one project's id
#: (neutron-lib's project id field size).
TargetProject = Annotated[str, StringConstraints(min_length=1, max_length=255)]
#: RBAC actions are strings of a description's size; which ones an object type takes
#: is the core's to say.
Action = Annotated[str, StringConstraints(max_length=255)]


class AgentUpdate(Body):
    """What an admin may change of an agent (Neutron's agent attributes with ``allow_put``)."""

    admin_state_up: bool = ABSENT
    description: Name = ABSENT


class RbacPolicyCreate(Body):
    object_type: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                                  max_length=64)]
    object_id: UUIDish
    action: Action
    target_tenant: TargetProject


class RbacPolicyUpdate(Body):
    target_tenant: TargetProject = ABSENT


class SecurityGroupCreate(Tagged):
    name: Name = ""
    description: Name = ""
    stateful: bool = True
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


class SecurityGroupUpdate(Body):
    READ_ONLY = TAGGED_READ_ONLY | {"security_group_rules"}

    name: Name = ABSENT
    description: Name = ABSENT
    stateful: bool = ABSENT


def _ethertype(value: Any) -> Any:
    """Neutron reads the ethertype case-insensitively."""
    if isinstance(value, str) and value.lower() in ("ipv4", "ipv6"):
        return "IPv" + value[-1]
    return value


class SecurityGroupRuleCreate(Body):
    """Values are checked for type here; what they mean together (protocol, ports, the
    remote prefix's version) is checked by the core, with Neutron's errors."""

    security_group_id: UUIDish
    direction: Literal["ingress", "egress"]
    ethertype: Annotated[Literal["IPv4", "IPv6"], BeforeValidator(_ethertype)] = "IPv4"
    protocol: Annotated[str, StringConstraints(max_length=40)] | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: Cidr | None = None
    remote_group_id: UUIDish | None = None
    #: Address groups are not supported: only ``null`` is accepted.
    remote_address_group_id: None = None
    description: Name = ""
    project_id: Name = ABSENT
    tenant_id: Name = ABSENT


def _limit(value: int) -> int:
    """neutron-lib's range for a quota limit: -1 (unlimited) up to the largest integer."""
    if not -1 <= value <= MAX_ID:
        raise ValueError(f"'{value}' is not in range -1 through {MAX_ID}")
    return value


QuotaLimit = Annotated[int, AfterValidator(_limit)]


class QuotaFlags(Body):
    """What a quota update may carry besides limits."""

    #: Set limits even below what the project already uses (``quota-check-limit-default``).
    force: bool = False
    #: Neutron's deprecated opt-in to the check that is now always made; accepted, ignored.
    check_limit: bool = ABSENT


def quota_update(resources: list[str]) -> type[Body]:
    """``PUT /v2.0/quotas/{project_id}``'s ``quota`` object: a limit for any of
    *resources* (the counted ones) and :class:`QuotaFlags`."""
    fields: dict[str, Any] = {name: (QuotaLimit, ABSENT) for name in resources}
    return create_model("QuotaUpdate", __base__=QuotaFlags, **fields)
