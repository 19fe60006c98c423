"""Errors the core raises; the API renders each as a Neutron error body.

The class name is the Neutron error ``type`` clients match on, so names
follow Neutron's (``PortNotFound``, ``MacAddressInUse``...).
"""
from __future__ import annotations


class NeutronError(Exception):
    status_code = 500
    message = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs: object):
        self.msg = message or self.message.format(**kwargs)
        super().__init__(self.msg)

    @property
    def type(self) -> str:
        return type(self).__name__


class BadRequest(NeutronError):
    status_code = 400
    message = "Bad {resource} request: {msg}."


class InvalidInput(BadRequest):
    message = "Invalid input for operation: {error_message}."


class PolicyNotAuthorized(NeutronError):
    status_code = 403
    message = "{rule} is disallowed by policy"


class NotAuthorized(NeutronError):
    """neutron-lib's: a caller acting for a project not its own (auto-allocated topologies)."""
    status_code = 403
    message = "Not authorized."


class HTTPForbidden(NeutronError):
    """Neutron's network ownership check (its ``OwnershipValidationHook``): a caller that
    is neither admin nor service creates a subnet or port for a project other than the
    network's, on a network that is not shared."""
    status_code = 403
    message = "Project {project_id} not allowed to create {resource} on this network"


class AdminRequired(NeutronError):
    status_code = 403
    message = "User does not have admin privileges: {reason}."


class NotFound(NeutronError):
    status_code = 404
    message = "An unknown exception occurred."


class NetworkNotFound(NotFound):
    message = "Network {net_id} could not be found."


class SubnetNotFound(NotFound):
    message = "Subnet {subnet_id} could not be found."


class PortNotFound(NotFound):
    message = "Port {port_id} could not be found."


class TagNotFound(NotFound):
    message = "Tag {tag} could not be found."


class AgentNotFound(NotFound):
    message = "Agent {id} could not be found."


class RbacPolicyNotFound(NotFound):
    message = "RBAC policy of type {object_type} with ID {id} not found"
class SecurityGroupNotFound(NotFound):
    message = "Security group {id} does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message = "Security group rule {id} does not exist"


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = ("Security group rule protocol {protocol} not supported. Only protocol values "
               "{values} and integer representations [0 to 255] are supported.")


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupInvalidPortRange(InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidPortValue(InvalidInput):
    message = "Invalid value for port {port}."


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255."


class SecurityGroupMissingIcmpType(InvalidInput):
    message = ("ICMP code (port-range-max) {value} is provided but ICMP type (port-range-min) "
               "is missing.")


class SecurityGroupInvalidProtoForPortRange(InvalidInput):
    message = ("Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
               "UDPLITE, SCTP and DCCP.")


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = "Invalid ethertype {ethertype} for protocol {protocol}."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype {ethertype} for CIDR {cidr}"


class SecurityGroupMultipleRemoteEntites(InvalidInput):
    message = "Only remote_ip_prefix or remote_group_id may be provided."


class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message = ("Port security must be enabled and port must have an IP address in order to "
               "use security groups.")


class TenantQuotaNotFound(NotFound):
    message = "Quota for project {tenant_id} could not be found."


class Conflict(NeutronError):
    status_code = 409
    message = "A conflict occurred."


class OverQuota(Conflict):
    message = "Quota exceeded for resources: {overs}."


class QuotaBelowUsage(BadRequest):
    """A new limit below what the project already has, without ``force``; Neutron
    answers it with a plain 400 (webob's, hence its type)."""

    message = ("Quota limit {limit} for {resource} must be greater than or equal to "
               "already used {used}")

    @property
    def type(self) -> str:
        return "HTTPBadRequest"


class ProjectNotOwn(BadRequest):
    """A create naming a project other than the caller's, by a caller that is neither
    admin nor service: neutron-lib's ``_validate_privileges``, a plain 400 (webob's),
    checked before any policy."""

    message = ("Specifying 'project_id' other than the authenticated project in request is "
               "not allowed for the current user")

    @property
    def type(self) -> str:
        return "HTTPBadRequest"


class InUse(Conflict):
    message = "The resource is in use."


class NetworkInUse(InUse):
    message = ("Unable to complete operation on network {net_id}. "
               "There are one or more ports still in use on the network.")


class SubnetInUse(InUse):
    message = ("Unable to complete operation on subnet {subnet_id}: "
               "one or more ports have an IP allocation from this subnet.")


class RbacPolicyInUse(Conflict):
    message = ("RBAC policy on object {object_id} cannot be removed because other objects "
               "depend on it.\nDetails: {details}")


class AutoAllocationFailure(Conflict):
    message = "Deployment error: {reason}."


class DefaultExternalNetworkExists(Conflict):
    message = "A default external network already exists: {net_id}."


class DuplicateRbacPolicy(Conflict):
    message = "An RBAC policy already exists with those values."


class InvalidSharedSetting(Conflict):
    message = ("Unable to reconfigure sharing settings for network {network}. "
               "Multiple projects are using it.")


class ExternalNetworkInUse(InUse):
    message = ("External network {net_id} cannot be updated to be made non-external, "
               "since it has existing gateway ports.")


class MacAddressInUse(InUse):
    message = "Unable to complete operation for network {net_id}. The mac address {mac} is in use."


class SecurityGroupInUse(InUse):
    message = "Security Group {id} in use."


class SecurityGroupConflict(Conflict):
    message = "Error {reason} while attempting the operation."


class SecurityGroupCannotRemoveDefault(InUse):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(InUse):
    message = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


class SecurityGroupRuleExists(InUse):
    message = "Security group rule already exists. Rule id is {rule_id}."


class PortSecurityPortHasSecurityGroup(InUse):
    message = ("Port has security group associated. Cannot disable port security or IP "
               "address until security group is removed")


class AddressPairAndPortSecurityRequired(Conflict):
    message = "Port Security must be enabled in order to have allowed address pairs on a port."


class PortBound(InUse):
    message = ("Unable to complete operation on port {port_id}, port is already bound, "
               "port type: {vif_type}, old_mac {old_mac}, new_mac {new_mac}.")


class IpAddressAlreadyAllocated(Conflict):
    message = "IP address {ip} already allocated in subnet {subnet_id}"


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network {net_id}."


class IpAddressGenerationFailureNoMatchingSubnet(IpAddressGenerationFailure):
    message = ("No valid service subnet for the given device owner, network {network_id}, "
               "service type {service_type}.")


class InvalidSubnetServiceType(InvalidInput):
    message = "Subnet service type {service_type} does not correspond to a valid device owner."


class InvalidIpForSubnet(BadRequest):
    message = "IP address {ip_address} is not a valid IP for the specified subnet."


class InvalidAllocationPool(BadRequest):
    message = "The allocation pool {pool} is not valid."


class OutOfBoundsAllocationPool(BadRequest):
    message = "The allocation pool {pool} spans beyond the subnet cidr {subnet_cidr}."


class OverlappingAllocationPools(Conflict):
    message = "Found overlapping allocation pools: {pool_1} {pool_2} for subnet {subnet_cidr}."


class GatewayConflictWithAllocationPools(InUse):
    message = "Gateway ip {ip_address} conflicts with allocation pool {pool}."


class GatewayIpInUse(InUse):
    message = ("Current gateway ip {ip_address} already in use by port {port_id}. Unable to "
               "update.")


class NoNetworkAvailable(NeutronError):
    status_code = 503
    message = "Unable to create the network. No tenant network is available for allocation."


class SegmentationIdInUse(InUse):
    message = ("Unable to create the network. The {network_type} segment {segmentation_id} "
               "on physical network {physical_network} is in use.")


class FlatNetworkInUse(InUse):
    message = "Unable to create the flat network. Physical network {physical_network} is in use."


class PreconditionFailed(NeutronError):
    status_code = 412
    message = ("Constrained to revision {required}, but the current revision of "
               "{resource_id} is {current}.")


class MechanismDriverError(NeutronError):
    status_code = 500
    message = "{method} failed."


# -- subnet pools and address scopes (neutron-lib's errors, with their codes)

class SubnetPoolNotFound(NotFound):
    message = "Subnet pool {subnetpool_id} could not be found."


class AddressScopeNotFound(NotFound):
    message = "Address scope {address_scope_id} could not be found."


class EmptySubnetPoolPrefixList(BadRequest):
    message = "Empty subnet pool prefix list."


class PrefixVersionMismatch(BadRequest):
    message = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class UnsupportedMinSubnetPoolPrefix(BadRequest):
    message = "Prefix '{prefix}' not supported in IPv{version} pool."


class IllegalSubnetPoolPrefixBounds(BadRequest):
    message = ("Illegal prefix bounds: {prefix_type}={prefixlen}, "
               "{base_prefix_type}={base_prefixlen}.")


class IllegalSubnetPoolPrefixUpdate(BadRequest):
    message = "Illegal update to prefixes: {msg}."


class IllegalSubnetPoolAssociationToAddressScope(BadRequest):
    message = ("Illegal subnetpool association: subnetpool {subnetpool_id} cannot be "
               "associated with address scope {address_scope_id}.")


class IllegalSubnetPoolIpVersionAssociationToAddressScope(BadRequest):
    message = ("Illegal subnetpool association: subnetpool {subnetpool_id} cannot associate "
               "with address scope {address_scope_id} because subnetpool ip_version is not "
               "{ip_version}.")


class IllegalSubnetPoolUpdate(BadRequest):
    message = "Illegal subnetpool update : {reason}."


class MinPrefixSubnetAllocationError(BadRequest):
    message = ("Unable to allocate subnet with prefix length {prefixlen}, minimum allowed "
               "prefix is {min_prefixlen}.")


class MaxPrefixSubnetAllocationError(BadRequest):
    message = ("Unable to allocate subnet with prefix length {prefixlen}, maximum allowed "
               "prefix is {max_prefixlen}.")


class SubnetPoolDeleteError(BadRequest):
    message = "Unable to delete subnet pool: {reason}."


class NetworkSubnetPoolAffinityError(BadRequest):
    message = "Subnets hosted on the same network must be allocated from the same subnet pool."


class NetworkAddressScopeAffinityError(BadRequest):
    message = ("Subnets of the same address family hosted on the same network must all "
               "participate in the same address scope.")


class AddressScopeUpdateError(BadRequest):
    message = "Unable to update address scope {address_scope_id} : {reason}."


class SubnetAllocationError(Conflict):
    """Neutron answers 500 (its exception has no HTTP class); a pool without room for
    the request is the state of the pool, not a server failure: 409, as
    ``IpAddressGenerationFailure`` for a full subnet."""
    message = "Failed to allocate subnet: {reason}."


class SubnetPoolQuotaExceeded(OverQuota):
    message = "Per-project subnet pool prefix quota exceeded."


class AddressScopePrefixConflict(Conflict):
    message = ("Failed to associate address scope: subnetpools within an address scope "
               "must have unique prefixes.")


class AddressScopeInUse(InUse):
    message = ("Unable to complete operation on address scope {address_scope_id}. There are "
               "one or more subnet pools in use on the address scope.")

# -- L3 (neutron-lib's exceptions/l3.py and l3_db.py), for routers and floating IPs
class RouterNotFound(NotFound):
    message = "Router {router_id} could not be found"


class RouterInterfaceNotFound(NotFound):
    message = "Router {router_id} does not have an interface with id {port_id}"


class RouterInterfaceNotFoundForSubnet(NotFound):
    message = "Router {router_id} has no interface on subnet {subnet_id}"


class FloatingIPNotFound(NotFound):
    message = "Floating IP {floatingip_id} could not be found"


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message = ("External network {external_network_id} is not reachable from subnet "
               "{subnet_id}.  Therefore, cannot associate Port {port_id} with a Floating IP.")


class RouterInUse(InUse):
    message = "Router {router_id} {reason}"


class RouterInterfaceInUseByFloatingIP(InUse):
    message = ("Router interface for subnet {subnet_id} on router {router_id} cannot be "
               "deleted, as it is required by one or more floating IPs.")


class RouterInterfaceInUseAsGatewayByFloatingIP(InUse):
    message = ("Router interface for subnet {subnet_id} on router {router_id} cannot be "
               "deleted, as it is required by one or more floating IPs as a gateway.")


class RouterExternalGatewayInUseByFloatingIp(InUse):
    message = ("Gateway cannot be updated for router {router_id}, since a gateway to "
               "external network {net_id} is required by one or more floating IPs.")


class FloatingIPPortAlreadyAssociated(InUse):
    message = ("Cannot associate floating IP {floating_ip_address} ({fip_id}) with port "
               "{port_id} using fixed IP {fixed_ip}, as that fixed IP already has a floating "
               "IP on external network {net_id}.")


class PortInUse(InUse):
    message = ("Unable to complete operation on port {port_id} for network {net_id}. "
               "Port already has an attached device {device_id}.")


class ServicePortInUse(InUse):
    message = "Port {port_id} cannot be deleted directly via the port API: {reason}."


class ExternalIpAddressExhausted(BadRequest):
    message = "Unable to find any IP address on external network {net_id}."


class SubnetMismatchForPort(BadRequest):
    message = "Subnet on port {port_id} does not match the requested subnet {subnet_id}"
