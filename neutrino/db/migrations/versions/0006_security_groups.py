"""security groups and their rules, port security, allowed address pairs; every existing
filtered port joins its project's default group

Ports that exist before this revision get ``port_security_enabled`` true (the column's
default), which puts them in OVN's drop port group: without a group they would lose all
IP traffic on the first start after the upgrade.  So each of them gets what a port
created without ``security_groups`` got when this revision was written: its project's
``default`` group, created here with Neutron's default rules if the project has none.
Ports that can have no group keep what they had before, no filtering:

* ports of no project: Neutron creates a default group only for a project, so they get
  none, and a port with port security and no group drops all IP; their port security
  is turned off, which is what they had;
* trusted ports (``network:*`` owners: routers, DHCP) are never filtered and get no group.

Ports without a fixed IP join too: as in ML2, port security alone decides whether a
port has groups.

Ports that change move their revision, so the OVN drift repair rewrites their
Logical_Switch_Port (port security, port groups) on the first full sync.

This revision was amended after it landed (the data step above) rather than followed by
another: nothing outside tests had run it yet.  Migrations are frozen in time, so the
default group and its rules are written out here, not imported from the runtime code
(neutrino.core.security_groups, neutrino.core.sg_rules) whose later changes must not
change what this revision does.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:30:00.000000
"""
import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op

from neutrino.db import tag_cascade

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _standard() -> list[sa.Column]:
    return [
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('revision_number', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('security_groups',
    sa.Column('stateful', sa.Boolean(), nullable=False),
    *_standard(),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_groups_project_id'), ['project_id'],
                              unique=False)
    op.create_table('default_security_groups',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id'),
    sa.UniqueConstraint('security_group_id')
    )
    op.create_table('security_group_rules',
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('ethertype', sa.String(length=40), nullable=False),
    sa.Column('protocol', sa.String(length=40), nullable=True),
    sa.Column('port_range_min', sa.Integer(), nullable=True),
    sa.Column('port_range_max', sa.Integer(), nullable=True),
    sa.Column('remote_ip_prefix', sa.String(length=255), nullable=True),
    sa.Column('remote_group_id', sa.String(length=36), nullable=True),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    *_standard(),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['remote_group_id'], ['security_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('security_group_id', 'fingerprint',
                        name='uniq_security_group_rules_fingerprint')
    )
    with op.batch_alter_table('security_group_rules', schema=None) as batch_op:
        for column in ('project_id', 'security_group_id', 'remote_group_id'):
            batch_op.create_index(batch_op.f(f'ix_security_group_rules_{column}'), [column],
                                  unique=False)
    op.create_table('port_security_groups',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_groups.id']),
    sa.PrimaryKeyConstraint('port_id', 'security_group_id')
    )
    with op.batch_alter_table('port_security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_security_groups_security_group_id'),
                              ['security_group_id'], unique=False)
    # Plain ALTER TABLE ADD COLUMN: a batch operation would copy the tables on SQLite and
    # lose their tag triggers (neutrino.db.tag_cascade).
    for table in ('networks', 'ports'):
        op.add_column(table, sa.Column('port_security_enabled', sa.Boolean(), nullable=False,
                                       server_default=sa.true()))
    op.add_column('ports', sa.Column('allowed_address_pairs', sa.JSON(), nullable=False,
                                     server_default='[]'))
    tag_cascade.add('security_groups')
    _filter_existing_ports()


# The tables as this revision leaves them (only the columns the data step writes or reads).
PORTS = sa.table('ports', sa.column('id'), sa.column('project_id'), sa.column('device_owner'),
                 sa.column('port_security_enabled', sa.Boolean()),
                 sa.column('revision_number'), sa.column('updated_at'))
GROUPS = sa.table('security_groups', *(sa.column(c) for c in (
    'id', 'project_id', 'name', 'description', 'stateful', 'revision_number', 'created_at',
    'updated_at')))
DEFAULTS = sa.table('default_security_groups', sa.column('project_id'),
                    sa.column('security_group_id'))
RULES = sa.table('security_group_rules', *(sa.column(c) for c in (
    'id', 'security_group_id', 'project_id', 'name', 'description', 'direction', 'ethertype',
    'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id',
    'fingerprint', 'revision_number', 'created_at', 'updated_at')))
MEMBERS = sa.table('port_security_groups', sa.column('port_id'),
                   sa.column('security_group_id'))
#: Owners of ports that are never filtered (neutron-lib's ``is_port_trusted``).
TRUSTED_PREFIX = 'network:'


def _default_rules(group_id: str, project_id: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Neutron's default group rules: egress anywhere, ingress from the group's members,
    for IPv4 and IPv6; with the fingerprint (the rule's normalised meaning, direction to
    remote group joined by ``|``) that makes a later API create of the same rule a 409."""
    rules = []
    for direction, remote in (('egress', None), ('ingress', group_id)):
        for ethertype in ('IPv4', 'IPv6'):
            rules.append({
                'id': str(uuid.uuid4()), 'security_group_id': group_id,
                'project_id': project_id, 'name': '', 'description': '',
                'direction': direction, 'ethertype': ethertype, 'protocol': None,
                'port_range_min': None, 'port_range_max': None, 'remote_ip_prefix': None,
                'remote_group_id': remote,
                'fingerprint': f"{direction}|{ethertype}|||||{remote or ''}",
                'revision_number': 1, 'created_at': now, 'updated_at': now})
    return rules


def _filter_existing_ports() -> None:
    """Every existing port with port security joins its project's default group (or, when
    it can have none, keeps no filtering); see the module's docstring."""
    bind = op.get_bind()
    ports = bind.execute(sa.select(PORTS.c.id, PORTS.c.project_id)
                         .where(PORTS.c.port_security_enabled.is_(True),
                                sa.not_(PORTS.c.device_owner.startswith(TRUSTED_PREFIX)))
                         .order_by(PORTS.c.id)).all()
    joining = [(port_id, project) for port_id, project in ports if project]
    unfiltered = [port_id for port_id, project in ports if not project]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    defaults: dict[str, str] = {}
    for _, project in joining:
        if project in defaults:
            continue
        group_id = defaults[project] = str(uuid.uuid4())
        bind.execute(GROUPS.insert(), [{
            'id': group_id, 'project_id': project, 'name': 'default',
            'description': 'Default security group', 'stateful': True, 'revision_number': 1,
            'created_at': now, 'updated_at': now}])
        bind.execute(RULES.insert(), _default_rules(group_id, project, now))
        bind.execute(DEFAULTS.insert(), [{'project_id': project, 'security_group_id': group_id}])
    if joining:
        bind.execute(MEMBERS.insert(), [{'port_id': port_id, 'security_group_id': defaults[p]}
                                        for port_id, p in joining])
    moved = PORTS.update().values(revision_number=PORTS.c.revision_number + 1, updated_at=now)
    for chunk in _chunks([port_id for port_id, _ in joining]):
        bind.execute(moved.where(PORTS.c.id.in_(chunk)))
    for chunk in _chunks(unfiltered):
        bind.execute(moved.values(port_security_enabled=False).where(PORTS.c.id.in_(chunk)))


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    """*ids* in slices a driver takes as one ``IN`` list."""
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def downgrade() -> None:
    tag_cascade.drop('security_groups')
    op.drop_column('ports', 'allowed_address_pairs')
    for table in ('ports', 'networks'):
        op.drop_column(table, 'port_security_enabled')
    op.drop_table('port_security_groups')
    op.drop_table('security_group_rules')
    op.drop_table('default_security_groups')
    op.drop_table('security_groups')
