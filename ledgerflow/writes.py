"""Many inserts and updates sent as one statement: the write of a money movement is one round
trip, not one per table.

On PostgreSQL a `WriteBatch` becomes a single data-modifying CTE
(`WITH t AS (INSERT … RETURNING id, public_id), e AS (INSERT … SELECT … JOIN t …), … SELECT …`);
a child row names its parent by a unique key (a transaction's `public_id`), so rows whose
parents get their ids in the same statement need no earlier round trip. Every part runs in the
one statement or none does, inside the caller's transaction. On SQLite, where a statement is
a function call rather than a network round trip, the parts run one after another through the
ORM, which resolves parents the usual way.

A batch can be *opened* around a block (`deferred_writes()`): writers that opt in add their
parts to it instead of flushing, and the block's owner flushes everything at the end. The
idempotency layer does this, so the record of a request is written with its money movement.
"""

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models

_open_batch: contextvars.ContextVar["WriteBatch | None"] = contextvars.ContextVar(
    "open_write_batch", default=None
)


@dataclass
class Insert:
    model: type[models.Model]
    objs: Sequence[models.Model]
    returning: bool = False  # set the new primary keys on `objs` after the flush
    # (foreign key field name, parent Insert, unique field of the parent naming it)
    parent: tuple[str, "Insert", str] | None = None
    alias: str = ""


@dataclass
class Statement:
    sql: str  # a single UPDATE/INSERT without a trailing semicolon
    params: list[Any]
    alias: str = ""


@dataclass
class WriteBatch:
    parts: list[Insert | Statement] = field(default_factory=list)
    after_flush: list[Callable[[], None]] = field(default_factory=list)

    def insert(
        self,
        model: type[models.Model],
        objs: Sequence[models.Model],
        *,
        returning: bool = False,
        parent: tuple[str, Insert, str] | None = None,
    ) -> Insert:
        part = Insert(model, list(objs), returning, parent, alias=self._alias())
        if part.objs:
            self.parts.append(part)
        return part

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        self.parts.append(Statement(sql, list(params), alias=self._alias()))

    def _alias(self) -> str:
        self._count = getattr(self, "_count", 0) + 1
        return f"w{self._count}"

    def flush(self) -> None:
        parts, self.parts = self.parts, []
        callbacks, self.after_flush = self.after_flush, []
        if parts:
            if connection.vendor == "postgresql":
                _flush_as_one_statement(parts)
            else:
                _flush_one_by_one(parts)
        for callback in callbacks:
            callback()


def open_batch() -> WriteBatch | None:
    """The batch a writer may add its parts to instead of flushing, if its caller opened one."""
    return _open_batch.get()


@contextmanager
def deferred_writes() -> Iterator[WriteBatch]:
    """Collect opted-in writes made inside the block; the caller flushes the batch."""
    batch = WriteBatch()
    token = _open_batch.set(batch)
    try:
        yield batch
    finally:
        _open_batch.reset(token)


# --- SQLite and anything else: the ORM, part by part ------------------------------------


def _flush_one_by_one(parts: list[Insert | Statement]) -> None:
    for part in parts:
        if isinstance(part, Statement):
            with connection.cursor() as cursor:
                cursor.execute(part.sql, part.params)
        else:
            part.model.objects.bulk_create(part.objs)


# --- PostgreSQL: one data-modifying CTE -----------------------------------------------------


def _columns(insert: Insert) -> list[models.Field]:
    fields = list(insert.model._meta.concrete_fields)
    pk = insert.model._meta.pk
    if isinstance(pk, models.AutoField | models.BigAutoField) and all(
        obj.pk is None for obj in insert.objs
    ):
        fields.remove(pk)
    return fields


def _insert_sql(insert: Insert) -> tuple[str, list[Any]]:
    """INSERT … SELECT … FROM unnest(one array per column) [JOIN parent] [RETURNING …]."""
    quote = connection.ops.quote_name
    columns = _columns(insert)
    fk_name = insert.parent[0] if insert.parent else None
    fk_column = insert.model._meta.get_field(fk_name).column if fk_name else None
    params, selects, unnest_args, names = [], [], [], []
    for index, column in enumerate(columns):
        alias = f"c{index}"
        if column.column == fk_column:
            parent_field = insert.parent[2]
            values = [getattr(getattr(obj, fk_name), parent_field) for obj in insert.objs]
            cast = insert.parent[1].model._meta.get_field(parent_field).cast_db_type(connection)
            selects.append(f"p.{quote('id')}")
        else:
            values = [
                column.get_db_prep_save(column.pre_save(obj, add=True), connection)
                for obj in insert.objs
            ]
            cast = column.cast_db_type(connection)
            selects.append(f"v.{alias}")
        unnest_args.append(f"%s::{cast}[]")
        names.append(alias)
        params.append(values)
    sql = (
        f"INSERT INTO {quote(insert.model._meta.db_table)} "  # noqa: S608 - names, not values
        f"({', '.join(quote(c.column) for c in columns)}) "
        f"SELECT {', '.join(selects)} FROM unnest({', '.join(unnest_args)}) "
        f"WITH ORDINALITY AS v({', '.join(names)}, ord)"
    )
    if insert.parent:
        parent_field = insert.parent[1].model._meta.get_field(insert.parent[2]).column
        fk_index = [c.column for c in columns].index(fk_column)
        sql += f" JOIN {insert.parent[1].alias} p ON p.{quote(parent_field)} = v.c{fk_index}"
    sql += " ORDER BY v.ord"  # ids are drawn in this order: the same order as `objs`
    sql += f" RETURNING {quote(insert.model._meta.pk.column)}"
    return sql, params


def _flush_as_one_statement(parts: list[Insert | Statement]) -> None:
    # Children join their parent's RETURNING rows: a parent must return its naming key.
    keys: dict[str, set[str]] = {}
    for part in parts:
        if isinstance(part, Insert) and part.parent:
            keys.setdefault(part.parent[1].alias, set()).add(part.parent[2])
    ctes, params = [], []
    for part in parts:
        if isinstance(part, Statement):
            sql, part_params = part.sql, part.params
        else:
            sql, part_params = _insert_sql(part)
            extra = keys.get(part.alias, set())
            if extra:
                quote = connection.ops.quote_name
                sql += "".join(f", {quote(part.model._meta.get_field(k).column)}" for k in extra)
        ctes.append(f"{part.alias} AS ({sql})")
        params.extend(part_params)
    wanted = [p for p in parts if isinstance(p, Insert) and p.returning]
    # Only aliases and quoted names are formatted in; every value travels as a parameter.
    select = ", ".join(f"(SELECT array_agg(id ORDER BY id) FROM {p.alias})" for p in wanted)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT {select or 1}", params)
        row = cursor.fetchone()
    for part, ids in zip(wanted, row, strict=False):
        # Sequence values are drawn in insertion order within one statement (the same
        # assumption Django's bulk_create makes on PostgreSQL).
        for obj, pk in zip(part.objs, ids or [], strict=True):
            obj.pk = pk
    for part in parts:
        if isinstance(part, Insert):
            for obj in part.objs:
                obj._state.adding = False
                obj._state.db = connection.alias
