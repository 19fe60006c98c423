"""Names Neutrino writes into and reads from OVN.

Every NB row Neutrino creates carries the id of the Neutrino resource it
mirrors in ``external_ids``; that key is also the ownership mark: the drift
repair deletes an owned row whose resource is gone and never touches a row
without the mark.  Keeping the names in one module makes the on-disk contract
with OVN (and with operators reading ``ovn-nbctl list``) reviewable at a glance.

The names the plug agent reads or writes (the ``requested-chassis`` and
``vif-plug-*`` port options, the agent's ``Chassis_Private`` reports) are not
here: they are the plug protocol, in ``neutrino.plugproto``, shared with the
agent.
"""
from __future__ import annotations

# -- Northbound external_ids -------------------------------------------------
#: On Logical_Switch rows: the network id (ownership mark).
NETWORK_ID = "neutrino:network_id"
NETWORK_NAME = "neutrino:network_name"
MTU = "neutrino:mtu"
#: On Logical_Switch_Port rows of ports: the port id (ownership mark).
PORT_ID = "neutrino:port_id"
PORT_NAME = "neutrino:port_name"
DEVICE_ID = "neutrino:device_id"
DEVICE_OWNER = "neutrino:device_owner"
HOST_ID = "neutrino:host_id"
VNIC_TYPE = "neutrino:vnic_type"
VIF_TYPE = "neutrino:vif_type"
#: On the localnet Logical_Switch_Port of a flat/vlan network: the network id.
LOCALNET_OF = "neutrino:localnet_of"
#: On DHCP_Options rows: the subnet id (ownership mark).
SUBNET_ID = "neutrino:subnet_id"
#: On Logical_Switch_Port rows of ports with extra DHCP options: those OVN knows, as JSON
#: ``{"<ip version>": {<OVN option>: value} or null (DHCP disabled)}``; a subnet's write
#: derives the port's own DHCP_Options rows from it.  On those rows, ``PORT_ID`` names
#: the port.
EXTRA_DHCP_OPTIONS = "neutrino:extra_dhcp_options"
#: On a switch's DNS row (its ``dns_records``), the network id marks it; each port with
#: names has its share of ``records`` there, under this prefix and its port id, as JSON
#: ``{name: "address ..."}``: what a port's write changes and what its delete takes back,
#: and what the row's ``records`` are merged from.
DNS_SHARE_PREFIX = "neutrino:dns:"
#: On Logical_Router, Logical_Router_Port, NAT, Logical_Router_Static_Route and
#: HA_Chassis_Group rows: the router id (ownership mark).
ROUTER_ID = "neutrino:router_id"
ROUTER_NAME = "neutrino:router_name"
#: On a floating IP's dnat_and_snat NAT row: the floating IP id.
FIP_ID = "neutrino:fip_id"
#: On Logical_Switch_Port rows: the Port_Group names the port is in, space-separated (what
#: a write compares with, so that a membership change touches only those groups' ports).
PORT_GROUPS = "neutrino:port_groups"
#: On Port_Group rows of security groups: the group id (ownership mark).
SECURITY_GROUP_ID = "neutrino:security_group_id"
#: On ACL rows of security group rules: the rule id (ownership mark).
SECURITY_GROUP_RULE_ID = "neutrino:security_group_rule_id"
#: On the drop Port_Group and its two ACLs: the mark (on the ACLs, their direction).
DROP = "neutrino:drop"
#: The Neutrino ``revision_number`` the row was written from.
REVISION = "neutrino:revision_number"

#: NB_Global external_ids the status worker publishes for every server's /healthz.
GLOBAL_WORKER = "neutrino:status_worker"
GLOBAL_REPAIRS_PREFIX = "neutrino:repairs:"
GLOBAL_LAST_SYNC = "neutrino:last_full_sync"

#: Name prefix of Logical_Switch rows (``neutrino-<network id>``).
SWITCH_PREFIX = "neutrino-"
LOCALNET_PREFIX = "provnet-"
#: Name prefix of a router's port (``lrp-<port id>``), as Neutron's OVN driver names it:
#: the router-type switch port points at it, and SB names the gateway's chassis-redirect
#: port ``cr-lrp-<port id>`` after it.
ROUTER_PORT_PREFIX = "lrp-"
#: Name prefix of Logical_Router and HA_Chassis_Group rows (``neutron-<router id>``), as
#: Neutron's OVN driver names them, so OVN tooling written for Neutron finds them.
ROUTER_PREFIX = "neutron-"
#: Name prefix of a security group's Port_Group (``pg_<id with _ for ->``, Neutron's form).
PORT_GROUP_PREFIX = "pg_"
#: The Port_Group every port with port security is in: what no rule allows is dropped.
#: Neutron's name, so operators' tooling finds it.
DROP_GROUP = "neutron_pg_drop"

# -- ACL priorities and actions (Neutron's OVN driver's) ----------------------------
ACL_PRIORITY_ALLOW = 1002
ACL_PRIORITY_DROP = 1001

# -- Logical_Switch_Port options (besides the plug protocol's) -------------------
NETWORK_NAME_OPTION = "network_name"
#: On a router-type switch port: the Logical_Router_Port it is patched to.
ROUTER_PORT_OPTION = "router-port"
#: On a gateway's switch port: announce the router's NAT addresses (gratuitous ARP).
NAT_ADDRESSES_OPTION = "nat-addresses"

# -- binding:profile keys ------------------------------------------------------
PROFILE_VIF_PLUG_TYPE = "vif_plug_type"
PROFILE_VIF_PLUG_PREFIX = "vif_plug:"
REMOTE_MANAGED_KEYS = ("pci_vendor_info", "pci_slot", "physical_network",
                       "card_serial_number", "pf_mac_address", "vf_num")

# -- Southbound -----------------------------------------------------------------
#: ovn-northd names a gateway router port's chassis-redirect Port_Binding ``cr-<lrp name>``.
REDIRECT_PREFIX = "cr-"
#: ``Port_Binding.type`` of those chassis-redirect ports, and of instance ports.
TYPE_CHASSIS_REDIRECT = "chassisredirect"
TYPE_VIF = ""
BRIDGE_MAPPINGS = "ovn-bridge-mappings"
CMS_OPTIONS = "ovn-cms-options"
#: The ovn-cms-options entry of a chassis that may host routers' gateways (Neutron's).
GATEWAY_CHASSIS_OPTION = "enable-chassis-as-gw"
CARD_SERIAL = "card-serial-number"
DATAPATH_TYPE = "datapath-type"
IFACE_TYPES = "iface-types"

#: The OVSDB lock whose holder runs the status worker and the drift repair.
STATUS_LOCK = "neutrino_status_worker"

# -- vnic types ---------------------------------------------------------------
VNIC_NORMAL = "normal"
VNIC_REMOTE_MANAGED = "remote-managed"
