"""Place rows follow the one place vocabulary (``services.common.places``): a county is
stored under its full name as well as its gazetteer alias, so 朝阳区 no longer finds
朝阳县, and cities under their gazetteer short name. Rebuilt from the institutions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.common.places import keys_of, province_key

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT ai.alliance_id, i.province, i.city, i.county FROM alliance_institutions ai "
            "JOIN institutions i ON i.id = ai.institution_id"
        )
    ).all()
    provinces = bind.execute(
        sa.text("SELECT alliance_id, value FROM alliance_places WHERE kind = 'province'")
    ).all()
    wanted: set[tuple[str, str, str]] = {
        (alliance_id, "province", province_key(value)) for alliance_id, value in provinces
    }
    for alliance_id, province, city, county in rows:
        wanted |= {
            (alliance_id, str(kind), key[:60]) for kind, key in keys_of(province, city, county)
        }
    bind.execute(sa.text("DELETE FROM alliance_places"))
    if wanted:
        bind.execute(
            sa.text(
                "INSERT INTO alliance_places (alliance_id, kind, value) "
                "VALUES (:alliance_id, :kind, :value)"
            ),
            [{"alliance_id": a, "kind": k, "value": v} for a, k, v in sorted(wanted)],
        )


def downgrade() -> None:
    # The rows written here include each county's gazetteer alias, the stem older code
    # filtered by: nothing to undo.
    pass
