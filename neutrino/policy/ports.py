"""Ports: Neutron's defaults (neutron/conf/policies/port.py) for what Neutrino has.

``dns_name`` and ``dns_domain`` (``dns-integration``, ``dns-domain-ports``) have no rule of
their own, as in Neutron, whose API definitions mark neither ``enforce_policy``: whoever
may create or update the port may set them, and whoever may read it reads them."""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN_OR_NET_OWNER_MEMBER,
    ADMIN_OR_NET_OWNER_READER,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    ADMIN_OR_SERVICE,
    NET_OWNER_MANAGER,
    NET_OWNER_MEMBER,
    NET_OWNER_READER,
    PROJECT_MEMBER,
    PROJECT_READER,
    SERVICE,
    either,
    rule,
    tag_rules,
)

COLLECTION, RESOURCE = "/ports", "/ports/{id}"
DEFAULTS = {"device_id": "", "device_owner": "", "binding:host_id": "", "binding:profile": {},
            "binding:vnic_type": "normal", "port_security_enabled": True,
            "allowed_address_pairs": []}
ALIASES: dict[str, str] = {}

MEMBER_OR_SERVICE = either(ADMIN_OR_PROJECT_MEMBER, SERVICE)
#: Neutron's ``create_port``: admin, service, the network's member, or a shared network
#: (not merely an external one), and, as everywhere in Neutrino, in the caller's project.
CREATE = either(ADMIN_OR_SERVICE, f"{PROJECT_MEMBER} and (project_id:%(network:project_id)s "
                                  "or rule:shared)")
NET_OWNER_OR_SERVICE = either(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)
DEVICE_OWNER = either("not rule:network_device", ADMIN_OR_SERVICE, NET_OWNER_MEMBER)
BINDING_READ = ("binding:vif_type", "binding:vif_details", "binding:host_id", "binding:profile")


def _writes(verb: str, method: str, path: str) -> list:
    """The attribute rules create and update share (``fixed_ips`` differs: see below)."""
    return [
        rule(f"{verb}_port:device_id", MEMBER_OR_SERVICE,
             f"Specify ``device_id`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:device_owner", DEVICE_OWNER,
             f"Specify ``device_owner`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:fixed_ips:ip_address", NET_OWNER_OR_SERVICE,
             f"Specify IP addresses in ``fixed_ips`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:fixed_ips:subnet_id", either(NET_OWNER_OR_SERVICE, "rule:shared"),
             f"Specify subnets in ``fixed_ips`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:port_security_enabled", NET_OWNER_OR_SERVICE,
             f"Specify ``port_security_enabled`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:allowed_address_pairs", NET_OWNER_OR_SERVICE,
             f"Specify ``allowed_address_pairs`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:binding:host_id", ADMIN_OR_SERVICE,
             f"Specify ``binding:host_id`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:binding:profile", SERVICE,
             f"Specify ``binding:profile`` when {verb[:-1]}ing a port", method, path),
        rule(f"{verb}_port:binding:vnic_type", MEMBER_OR_SERVICE,
             f"Specify ``binding:vnic_type`` when {verb[:-1]}ing a port", method, path),
    ]


RULES = [
    rule("create_port", CREATE, "Create a port", "POST", COLLECTION),
    rule("create_port:mac_address", NET_OWNER_OR_SERVICE,
         "Specify ``mac_address`` when creating a port", "POST", COLLECTION),
    rule("create_port:fixed_ips", either(NET_OWNER_OR_SERVICE, "rule:shared"),
         "Specify ``fixed_ips`` when creating a port", "POST", COLLECTION),
    *_writes("create", "POST", COLLECTION),
    rule("get_port", either(ADMIN_OR_PROJECT_READER, NET_OWNER_READER, SERVICE),
         "Get a port", "GET", RESOURCE),
    *(rule(f"get_port:{attr}", ADMIN_OR_SERVICE, f"Get ``{attr}`` of a port", "GET", RESOURCE)
      for attr in BINDING_READ),
    rule("update_port", MEMBER_OR_SERVICE, "Update a port", "PUT", RESOURCE),
    rule("update_port:mac_address", either(ADMIN_OR_SERVICE, NET_OWNER_MANAGER),
         "Update ``mac_address`` of a port", "PUT", RESOURCE),
    # Unlike a create, an update of fixed_ips on a shared network is for its owner only.
    rule("update_port:fixed_ips", NET_OWNER_OR_SERVICE, "Update ``fixed_ips`` of a port",
         "PUT", RESOURCE),
    *_writes("update", "PUT", RESOURCE),
    rule("delete_port", either(MEMBER_OR_SERVICE, NET_OWNER_MEMBER), "Delete a port",
         "DELETE", RESOURCE),
    # Unlike the port's own rules, none of these names the service role.
    *tag_rules("port", RESOURCE, either(ADMIN_OR_NET_OWNER_READER, PROJECT_READER),
               ADMIN_OR_PROJECT_MEMBER, either(PROJECT_MEMBER, ADMIN_OR_NET_OWNER_MEMBER)),
]
