"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from alembic import context

from engine import accounts, audit, authoring, drafts, saved_filters, sign_ins, tokens  # noqa: F401
from engine.models import Base
from engine.notifications import models as notification_models  # noqa: F401  (their tables)
from engine.record import models as record_models  # noqa: F401  (registers the record tables)

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
