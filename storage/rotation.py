"""Re-encrypting every encrypted value under the newest key, in small committed batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Column, Engine, Table, Text, func, select, type_coerce, update

from storage.crypto import Keyring
from storage.models import Base
from storage.types import EncryptedText

BATCH = 500


def encrypted_columns() -> Iterator[tuple[Table, Column[str]]]:
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


def count_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(connection.scalar(select(func.count()).select_from(table)) or 0 for table, _ in _tables())


def rotate_all(engine: Engine, keyring: Keyring, progress: Callable[[int], None] = lambda _: None) -> int:
    """Re-encrypt values not yet under the newest key; returns how many changed. Safe to interrupt and rerun:
    every batch commits on its own, and values already under the newest key are left alone."""
    changed = 0
    for table, columns in _tables():
        key = next(iter(table.primary_key.columns))
        last = None
        while True:
            with engine.begin() as connection:
                query = select(key, *(type_coerce(column, Text).label(column.name) for column in columns))
                if last is not None:
                    query = query.where(key > last)
                rows = connection.execute(query.order_by(key).limit(BATCH)).all()
                for row in rows:
                    new = {}
                    for column in columns:
                        token = getattr(row, column.name)
                        if token is not None and not keyring.is_current(token):
                            new[column.name] = type_coerce(keyring.rotate(token), Text)
                    if new:
                        connection.execute(update(table).where(key == row[0]).values(new))
                        changed += 1
            if not rows:
                break
            last = rows[-1][0]
            progress(len(rows))
    return changed


def _tables() -> list[tuple[Table, list[Column[str]]]]:
    grouped: dict[str, tuple[Table, list[Column[str]]]] = {}
    for table, column in encrypted_columns():
        grouped.setdefault(table.name, (table, []))[1].append(column)
    return list(grouped.values())
