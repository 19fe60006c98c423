"""rbac policies; a network's shared flag becomes its '*' access_as_shared policy

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:30:00.000000
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

POLICIES = sa.table('rbac_policies', sa.column('id'), sa.column('project_id'),
                    sa.column('object_type'), sa.column('object_id'), sa.column('action'),
                    sa.column('target_project'))
NETWORKS = sa.table('networks', sa.column('id'), sa.column('project_id'), sa.column('shared'))
SHARED = (POLICIES.c.object_type == 'network') & (POLICIES.c.action == 'access_as_shared') & (
    POLICIES.c.target_project == '*')


def upgrade() -> None:
    op.create_table('rbac_policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=255), nullable=False),
    sa.Column('target_project', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_type', 'object_id', 'action', 'target_project',
                        name='uniq_rbac_policies_grant')
    )
    with op.batch_alter_table('rbac_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rbac_policies_project_id'), ['project_id'],
                              unique=False)
    bind = op.get_bind()
    shared = bind.execute(sa.select(NETWORKS.c.id, NETWORKS.c.project_id).where(
        NETWORKS.c.shared.is_(True))).all()
    if shared:
        bind.execute(POLICIES.insert(), [
            {'id': str(uuid.uuid4()), 'project_id': project_id, 'object_type': 'network',
             'object_id': net_id, 'action': 'access_as_shared', 'target_project': '*'}
            for net_id, project_id in shared])
    # A plain ALTER, not a batch: SQLite's batch mode copies the table and drops the
    # old one, which would drop its tags trigger and, with foreign keys on, delete
    # (or refuse to delete) the rows that reference it.
    op.execute('ALTER TABLE networks DROP COLUMN shared')


def downgrade() -> None:
    op.add_column('networks', sa.Column('shared', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    bind = op.get_bind()
    bind.execute(NETWORKS.update().values(shared=True).where(NETWORKS.c.id.in_(
        sa.select(POLICIES.c.object_id).where(SHARED))))
    with op.batch_alter_table('rbac_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rbac_policies_project_id'))
    op.drop_table('rbac_policies')
