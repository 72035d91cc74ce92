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
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

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
            part.model._default_manager.bulk_create(part.objs)


# --- PostgreSQL: one data-modifying CTE -----------------------------------------------------


# Field types whose attribute is already the value to store (ints, foreign keys, booleans).
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "IntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "BooleanField",
        "ForeignKey",
    }
)


def _field(model: type[models.Model], name: str) -> "models.Field[Any, Any]":
    """A concrete field by name (get_field may also answer a reverse relation)."""
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


def _cast_db_type(field: "models.Field[Any, Any]") -> str:
    # Field.cast_db_type is Django's (the type a cast to this field names); not in django-stubs.
    return str(field.cast_db_type(connection))  # type: ignore[attr-defined]


@functools.cache
def _shape(
    model: type[models.Model],
    with_pk: bool,
    parent: tuple[str, type[models.Model], str] | None,
    parent_alias_marker: str = "{parent}",
) -> tuple[str, tuple["models.Field[Any, Any]", ...]]:
    """The SQL of an insert of `model` rows (the parent's alias left as a marker) and its
    columns, built once per shape: casts and quoting cost more than the values.

    `parent`: (foreign key field name, parent model, unique field of the parent naming it)."""
    quote = connection.ops.quote_name
    opts = model._meta
    columns = tuple(f for f in opts.concrete_fields if with_pk or f is not opts.pk)
    fk_column = ""  # no column is named ""
    parent_cast = parent_pk = key_column = ""
    if parent is not None:
        fk_name, parent_model, parent_key = parent
        fk_column = _field(model, fk_name).column
        parent_cast = _cast_db_type(_field(parent_model, parent_key))
        parent_pk = parent_model._meta.pk.column
        key_column = _field(parent_model, parent_key).column
    selects, unnest_args, names = [], [], []
    for index, column in enumerate(columns):
        if column.column == fk_column:
            db_type = parent_cast
            selects.append(f"p.{quote(parent_pk)}")
        else:
            db_type = _cast_db_type(column)
            selects.append(f"v.c{index}")
        unnest_args.append(f"%s::{db_type}[]")
        names.append(f"c{index}")
    sql = (
        f"INSERT INTO {quote(opts.db_table)} "  # noqa: S608 - names, not values  # nosec B608
        f"({', '.join(quote(c.column) for c in columns)}) "
        f"SELECT {', '.join(selects)} FROM unnest({', '.join(unnest_args)}) "
        f"WITH ORDINALITY AS v({', '.join(names)}, ord)"
    )
    if parent is not None:
        fk_index = [c.column for c in columns].index(fk_column)
        sql += f" JOIN {parent_alias_marker} p ON p.{quote(key_column)} = v.c{fk_index}"
    sql += " ORDER BY v.ord"  # ids are drawn in this order: the same order as `objs`
    sql += f" RETURNING {quote(opts.pk.column)}"
    return sql, columns


def _insert_sql(insert: Insert) -> tuple[str, list[Any]]:
    """INSERT … SELECT … FROM unnest(one array per column) [JOIN parent] RETURNING pk."""
    opts = insert.model._meta
    auto_pk = isinstance(opts.pk, models.AutoField | models.BigAutoField)
    with_pk = not (auto_pk and all(obj.pk is None for obj in insert.objs))
    fk_name = parent_key = fk_column = ""  # no column is named ""
    parent = None
    if insert.parent is not None:
        fk_name, parent, parent_key = insert.parent
        fk_column = _field(insert.model, fk_name).column
    sql, columns = _shape(
        insert.model, with_pk, (fk_name, parent.model, parent_key) if parent else None
    )
    params = []
    for column in columns:
        if column.column == fk_column:
            params.append([getattr(getattr(obj, fk_name), parent_key) for obj in insert.objs])
        elif column.get_internal_type() in _PLAIN_TYPES:
            # Stored as they are (the field's own conversion would be int(x) or a no-op).
            params.append([getattr(obj, column.attname) for obj in insert.objs])
        else:
            params.append(
                [
                    column.get_db_prep_save(column.pre_save(obj, add=True), connection)
                    for obj in insert.objs
                ]
            )
    if parent is not None:
        sql = sql.replace("{parent}", parent.alias, 1)
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
                sql += "".join(f", {quote(_field(part.model, k).column)}" for k in extra)
        ctes.append(f"{part.alias} AS ({sql})")
        params.extend(part_params)
    wanted = [p for p in parts if isinstance(p, Insert) and p.returning]
    # Only aliases and quoted names are formatted in; every value travels as a parameter.
    select = ", ".join(f"(SELECT array_agg(id ORDER BY id) FROM {p.alias})" for p in wanted)  # noqa: S608  # nosec B608
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
