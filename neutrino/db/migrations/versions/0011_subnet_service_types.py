"""subnets' service types (subnet-service-types)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN: a batch operation would copy the table on SQLite and
    # lose its tag trigger (neutrino.db.tag_cascade).  Existing subnets serve every port.
    op.add_column('subnets', sa.Column('service_types', sa.JSON(), nullable=False,
                                       server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('subnets') as batch_op:
        batch_op.drop_column('service_types')
