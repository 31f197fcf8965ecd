"""The models and the migrations agree: a database built by the migrations has every table, column, type, index and
constraint the models declare, on SQLite and on PostgreSQL, so a model change without its migration fails here."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String

from storage.db import migration_state
from storage.models import Base


def differences(db, metadata: MetaData = Base.metadata) -> list:
    """What `alembic revision --autogenerate` would write against this migrated database."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, metadata)


def test_the_migrated_database_is_what_the_models_describe(db):
    current, newest = migration_state(db.engine)
    assert current == newest
    assert differences(db) == []


def test_a_model_change_without_its_migration_is_found(db):
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["staff"].append_column(Column("nickname", String(20)))
    (difference,) = differences(db, changed)
    assert difference[0] == "add_column" and difference[2] == "staff" and difference[3].name == "nickname"
