"""Reading and writing a chunk's objects in bulk instead of one by one.

SQLAlchemy's unit of work handles any graph of objects, and pays for it
per object: a chunk of plain new rows or of plain column changes spends
most of its time there rather than in the database. The runner therefore
does the common cases itself, with one query or one executemany per
table and set of columns, and leaves everything else to the ORM:

- `load_chunk()`: a keyset page of a plain mapper's rows, read with Core
  and made into persistent objects of the session the way the ORM's
  loader makes them (state, identity key, identity map entry). A page
  holding an object the session has already is left to the ORM.
- `Inserter`: objects a loader yields that were never added to a
  session, of a plain mapper (one table, no inheritance, no version
  counter, no insert hooks), whose only relationships are many-to-one to
  objects that are already stored. Their foreign keys are copied from
  those objects, as the flush would. The objects do not get their primary
  keys back and stay outside the session.
- `flush_updates()`: stored objects of a plain mapper whose changes are
  column values only. After the UPDATE their state is marked clean the
  way `InstanceState._commit_all_states()` does after the flush's own
  UPDATE (`_mark_clean()`). Those state attributes are internal to
  SQLAlchemy, as are the identity map's that `load_chunk()` fills;
  pyproject.toml keeps SQLAlchemy below 2.2, and `usable()` and
  `_loading_usable()` turn these paths off if they are gone.

Statements are compiled once per shape and sent with the driver's
executemany, type conversions (bind processors) applied by hand.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
from itertools import repeat

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import NO_VALUE

logger = logging.getLogger("corral.run.bulk")


def usable() -> bool:
    """Whether this SQLAlchemy still has what flush_updates() relies on:
    the state attributes _mark_clean() resets, and the identity map's set
    of modified states."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.state import InstanceState

    return all(
        hasattr(InstanceState, name)
        for name in ("_strong_obj", "modified", "expired")
    ) and hasattr(Session().identity_map, "_modified")


@dataclasses.dataclass(eq=False)
class _MapperInfo:
    """What the bulk paths need to know about one plain mapper."""

    table: sa.Table
    # attribute key -> column, for the columns of the mapped table
    columns: dict
    pk_keys: tuple
    # relationship key -> [(local column, attribute key on the target)]
    many_to_one: dict
    # every other relationship key
    other_relationships: frozenset
    # reverse relationship keys to expire on a many-to-one target after
    # a bulk insert, so its pending backref list does not hold the row
    reverse_keys: dict
    # attribute key -> column key, for the fast paths
    column_keys: dict
    # whether load_chunk() may build this mapper's objects itself
    loadable: bool
    identity_class: type
    # attribute keys whose type compares with plain ==
    exact_compare: frozenset


_info_cache: dict = {}


def mapper_info(mapper) -> _MapperInfo | None:
    """Bulk-writing facts for `mapper`, or None when it is not plain."""
    if mapper in _info_cache:
        return _info_cache[mapper]
    _info_cache[mapper] = info = _build_info(mapper)
    return info


def _build_info(mapper) -> _MapperInfo | None:
    table = mapper.local_table
    if (
        mapper.inherits is not None
        or mapper.polymorphic_on is not None
        or mapper.version_id_col is not None
        or not isinstance(table, sa.Table)
        or mapper.persist_selectable is not table
    ):
        return None
    dispatch = mapper.dispatch
    if any(
        len(getattr(dispatch, name))
        for name in ("before_insert", "after_insert", "before_update",
                     "after_update")
    ):
        return None
    columns = {}
    for prop in mapper.column_attrs:
        if len(prop.columns) != 1:
            return None
        column = prop.columns[0]
        if isinstance(column, sa.Column) and column.table is table:
            columns[prop.key] = column
    pk_keys = []
    for column in mapper.primary_key:
        prop = mapper.get_property_by_column(column)
        pk_keys.append(prop.key)
    many_to_one, reverse_keys, others = {}, {}, set()
    for rel in mapper.relationships:
        if (
            rel.direction is RelationshipDirection.MANYTOONE
            and rel.secondary is None
        ):
            pairs = []
            for local, remote in rel.local_remote_pairs:
                if local.table is not table:
                    break
                target_prop = rel.mapper.get_property_by_column(remote)
                pairs.append((local, target_prop.key))
            else:
                many_to_one[rel.key] = pairs
                reverse_keys[rel.key] = [
                    p.key for p in getattr(rel, "_reverse_property", ())
                ]
                continue
        others.add(rel.key)
    loadable = (
        len(columns) == len(mapper.column_attrs)
        and not any(p.deferred for p in mapper.column_attrs)
        and all(rel.lazy == "select" for rel in mapper.relationships)
        and not len(mapper.class_manager.dispatch.load)
        and not len(mapper.class_manager.dispatch.refresh)
    )
    return _MapperInfo(
        table=table, columns=columns, pk_keys=tuple(pk_keys),
        many_to_one=many_to_one, other_relationships=frozenset(others),
        reverse_keys=reverse_keys,
        column_keys={k: c.key for k, c in columns.items()},
        loadable=loadable, identity_class=mapper._identity_class,
        exact_compare=frozenset(
            k for k, c in columns.items()
            if k not in pk_keys and type(c.type).compare_values
            is sa.types.TypeEngine.compare_values
        ),
    )


# -- executemany with compiled statements -----------------------------

_compiled_cache: dict = {}


def _execute_many(connection, key, build, rows) -> int:
    """Run the statement `build()` makes once per row of `rows`.

    Each row is a tuple in the order of the statement's bind names
    p0, p1, ... . Returns the rowcount the driver reports (-1 unknown).
    """
    dialect = connection.dialect
    cache_key = (key, dialect.name, dialect.paramstyle)
    entry = _compiled_cache.get(cache_key)
    if entry is None:
        statement, types = build()
        compiled = statement.compile(dialect=dialect)
        processors = [
            t.dialect_impl(dialect).bind_processor(dialect) for t in types
        ]
        order = None
        if compiled.positional:
            names = list(compiled.positiontup)
            order = [int(name[1:]) for name in names]
        entry = (compiled.string, processors, order, len(types))
        _compiled_cache[cache_key] = entry
    sql, processors, order, width = entry
    if rows and any(processors):
        rows = _convert(rows, processors)
    if order is not None:
        if order != list(range(width)):
            rows = [tuple(row[i] for i in order) for row in rows]
    else:
        rows = [{f"p{i}": v for i, v in enumerate(row)} for row in rows]
    result = connection.exec_driver_sql(sql, rows)
    return result.rowcount


def _convert(rows, processors) -> list:
    """Apply the bind processors (type conversions) column by column.

    Column-wise, each processor is mapped over one column at C speed,
    where a per-row generator would cost about a microsecond a row. As in
    Core, a processor also gets the None values.
    """
    columns = list(zip(*rows))
    for i, process in enumerate(processors):
        if process is not None:
            column = columns[i]
            first = column[0]
            if all(map(operator.is_, column, repeat(first))):
                # One object in every row (a chunk's timestamp, say):
                # converted once. The test stops at the first other one.
                columns[i] = (process(first),) * len(column)
            else:
                columns[i] = list(map(process, column))
    return list(zip(*columns))


# -- inserting new objects --------------------------------------------


class Inserter:
    """Collects plain new objects and inserts them in bulk."""

    def __init__(self):
        self.pending: list = []

    def __len__(self) -> int:
        return len(self.pending)

    def offer(self, obj) -> bool:
        """Take `obj` for bulk insertion if it qualifies; else False."""
        values = obj.__dict__
        state = values.get("_sa_instance_state")
        if state is None or state.key is not None or (
            state.session_id is not None
        ):
            return False
        info = _info_cache.get(state.mapper)
        if info is None:
            info = mapper_info(state.mapper)
            if info is None:
                return False
        column_keys = info.column_keys
        keys = []
        row = []
        targets = None
        for key, value in values.items():
            column_key = column_keys.get(key)
            if column_key is not None:
                keys.append(column_key)
                row.append(value)
            elif key != "_sa_instance_state":
                found = self._relationship(info, key, value, keys, row)
                if found is False:
                    return False
                if found:
                    targets = (targets or []) + [found]
        if targets and not _unhook_backrefs(obj, targets):
            return False
        self.pending.append((info.table, tuple(keys), row))
        return True

    @staticmethod
    def _relationship(info, key, value, keys, row):
        """Foreign key values from a many-to-one relationship.

        Returns False when the object cannot be bulk inserted, None when
        there is nothing to follow up, or (target state, reverse keys).
        """
        if key in info.many_to_one:
            pairs = info.many_to_one[key]
            if value is None:
                for local, _ in pairs:
                    if local.key not in keys:
                        keys.append(local.key)
                        row.append(None)
                return None
            target = instance_state(value)
            if target.key is None:
                return False  # its key is not known yet
            for local, target_key in pairs:
                if target_key not in target.dict:
                    return False
                if local.key in keys:
                    row[keys.index(local.key)] = target.dict[target_key]
                else:
                    keys.append(local.key)
                    row.append(target.dict[target_key])
            return (target, info.reverse_keys[key])
        if key in info.other_relationships and not value:
            return None  # an empty collection
        return False

    def flush(self, session) -> int:
        """Insert what was collected; return how many rows.

        The caller holds the write lock and commits afterwards.
        """
        if not self.pending:
            return 0
        connection = session.connection()
        total = 0
        run: list = []
        shape = None
        for table, keys, row in self.pending:
            this = (table, keys)
            if this != shape and run:
                total += _insert_rows(connection, shape, run)
                run = []
            shape = this
            run.append(row)
        total += _insert_rows(connection, shape, run)
        self.pending = []
        return total


def _unhook_backrefs(obj, targets) -> bool:
    """Take `obj` out of its many-to-one targets' reverse collections.

    Setting `Observation.name = name` also appends the observation to
    `name.observations`; while that list is not loaded SQLAlchemy keeps
    the append as a pending change, and the next flush would warn that
    the observation is not in the session. The row is written by the bulk
    insert instead, so the pending append is dropped; the list shows the
    row when it is next loaded. A loaded list would hold the object
    itself: such objects take the ordinary path (returns False).
    """
    for target, reverse_keys in targets:
        for key in reverse_keys:
            if key in target.dict:
                return False
            pending = target.__dict__.get("_pending_mutations", {}).get(key)
            if pending is None:
                continue
            try:
                pending.added_items.discard(obj)
            except AttributeError:
                return False
    return True


def _insert_rows(connection, shape, rows: list) -> int:
    """INSERT `rows` (sequences in the order of the shape's keys)."""
    table, keys = shape
    given = [table.c[k] for k in keys]
    defaults = []
    sequences = []
    for column in table.columns:
        if column.key in keys:
            continue
        default = column.default
        if default is None:
            continue
        if isinstance(default, sa.Sequence):
            sequences.append(column)
        elif getattr(default, "is_scalar", False):
            defaults.append((column, lambda d=default: d.arg))
        elif getattr(default, "is_callable", False):
            defaults.append((column, lambda d=default: d.arg(None)))
        else:
            # A SQL expression default: let Core compute it per row.
            connection.execute(table.insert(),
                               [dict(zip(keys, row)) for row in rows])
            return len(rows)

    def build():
        mapping = {}
        types = []
        for i, column in enumerate(given + [c for c, _ in defaults]):
            mapping[column] = sa.bindparam(f"p{i}", type_=column.type)
            types.append(column.type)
        for column in sequences:
            mapping[column] = column.default.next_value()
        return table.insert().values(mapping), types

    if defaults:
        try:
            params = [
                tuple(row) + tuple(f() for _, f in defaults) for row in rows
            ]
        except Exception:
            # A default that needs the insert's context: Core knows how.
            connection.execute(table.insert(),
                               [dict(zip(keys, row)) for row in rows])
            return len(rows)
    else:
        params = rows
    key = ("insert", table, keys, tuple(c.key for c, _ in defaults))
    _execute_many(connection, key, build, params)
    return len(rows)


# -- updating changed objects -----------------------------------------


def flush_updates(session, objects=None) -> tuple[int, int]:
    """UPDATE the plain column changes of stored objects in bulk.

    `objects` are the ones to look at (the chunk's; every dirty object of
    the session when None). Returns (objects changed, dirty objects left
    for the ordinary flush). Objects whose values were set to what they
    already were are marked clean and not counted.

    The loop runs once per object of every chunk, so what can be decided
    once per class and set of changed attributes is kept in `shapes`.
    """
    if objects is None:
        objects = session.dirty
    # (class, changed attribute keys) -> [info, plain, rows]:
    # plain when every key is a column compared with ==.
    shapes: dict = {}
    left = 0
    clean = []
    deleted = session._deleted
    for obj in objects:
        values = obj.__dict__
        state = values["_sa_instance_state"]
        if not state.modified:
            continue
        committed = state.committed_state
        if (
            not committed or state.key is None
            or "_pending_mutations" in state.__dict__
            or (deleted and state in deleted)
        ):
            left += 1
            continue
        touched = (state.class_, *committed)
        shape = shapes.get(touched)
        if shape is None:
            shape = shapes[touched] = _shape(state, touched[1:])
        if shape[0] is None:
            left += 1
            continue
        info, plain, rows = shape
        if plain:
            same = 0
            for key, old in committed.items():
                if old is not NO_VALUE and old == values[key]:
                    same += 1
            if not same:
                rows.append(values)
                clean.append(state)
                continue
            if same == len(committed):
                # Set to what it was: nothing to write.
                clean.append(state)
                continue
        # Some keys changed and some not, or types that compare otherwise.
        changed = _changed_keys(info, committed, values)
        clean.append(state)
        if changed:
            shapes.setdefault(
                (state.class_, *changed), [info, False, []]
            )[2].append(values)
    count = 0
    connection = None
    for touched, (info, _, rows) in shapes.items():
        if rows:
            if connection is None:
                connection = session.connection()
            count += _update_rows(connection, info, touched[1:], rows)
    if clean:
        _mark_clean(clean, session.identity_map)
    return count, left


def _shape(state, keys) -> list:
    """[info, plain, rows] for objects of `state`'s class whose changed
    attributes are `keys`; info is None when they are not plain columns
    of a plain mapper (the ordinary flush writes those)."""
    info = _info_cache.get(state.mapper)
    if info is None or not all(
        k in info.columns and k not in info.pk_keys for k in keys
    ):
        return [None, False, []]
    return [info, info.exact_compare.issuperset(keys), []]


def _mark_clean(states, identity_map) -> None:
    """Mark written objects clean, as the flush does after its UPDATE.

    What InstanceState._commit_all_states() does, less what an object
    loaded and changed in a chunk never needs: the objects that reach
    here have no pending collection changes (those take the ordinary
    flush), and only few have expired attributes.
    """
    for state in states:
        state.committed_state.clear()
        expired = state.expired_attributes
        if expired:
            expired.difference_update(state.obj().__dict__)
        state.modified = state.expired = False
        state._strong_obj = None
    identity_map._modified.difference_update(states)


def _changed_keys(info, committed, values) -> list:
    """The keys whose values changed, asking each column type to compare.

    Every key is a plain column of the table that is not part of the
    primary key: _shape() has sent the other objects to the ORM.
    """
    changed = []
    for key, old in committed.items():
        if key in info.exact_compare:
            same = old is not NO_VALUE and old == values[key]
        else:
            try:
                same = bool(
                    info.columns[key].type.compare_values(old, values[key])
                )
            except Exception:
                same = False
        if not same:
            changed.append(key)
    return changed


def _update_rows(connection, info, keys, rows) -> int:
    table = info.table
    set_columns = [info.columns[k] for k in keys]
    pk_columns = [info.columns[k] for k in info.pk_keys]

    def build():
        types = [c.type for c in set_columns + pk_columns]
        where = [
            c == sa.bindparam(f"p{len(set_columns) + i}", type_=c.type)
            for i, c in enumerate(pk_columns)
        ]
        values = {
            c: sa.bindparam(f"p{i}", type_=c.type)
            for i, c in enumerate(set_columns)
        }
        return table.update().where(*where).values(values), types

    getter = operator.itemgetter(*(keys + info.pk_keys))
    if len(keys) + len(info.pk_keys) == 1:
        params = [(getter(values),) for values in rows]
    else:
        params = list(map(getter, rows))
    rowcount = _execute_many(connection, ("update", table, keys), build,
                             params)
    if (
        rowcount >= 0
        and connection.dialect.supports_sane_multi_rowcount
        and rowcount != len(params)
    ):
        raise sa.orm.exc.StaleDataError(
            f"UPDATE of {table.name} matched {rowcount} of {len(params)} "
            "rows; some were deleted by another process meanwhile"
        )
    return len(params)


# -- loading a chunk ----------------------------------------------------


def page_queries(mapper, where, order_column, limit):
    """The keyset SELECTs load_chunk() reads pages with, or None.

    Two statements, built once per run: the first page, and every later
    page (`order_column > :corral_after`). None when the mapper is not
    plain (see `_MapperInfo.loadable`): the ORM must load its objects.
    """
    info = mapper_info(mapper)
    if info is None or not info.loadable or not _LOADING:
        return None
    columns = [info.columns[k] for k in info.columns]
    first = (sa.select(*columns).where(*where).order_by(order_column)
             .limit(limit))
    later = first.where(order_column > sa.bindparam("corral_after"))
    return first, later


def load_chunk(session, mapper, query, params=None):
    """The objects of one keyset page, built without the ORM's loader.

    `query` is one of page_queries(). The rows are read with Core and each
    object is made and registered as persistent in the session's identity
    map, as the ORM's loader does, less its generality. Returns (objects,
    primary-key tuples), or None when a row's object is already in the
    session: the ORM knows whether to refresh it, so it loads that page.

    This loop runs once per row of every step and alert, so it is written
    flat: no call per row but the object's own construction.
    """
    info = _info_cache[mapper]
    keys = list(info.columns)
    rows = session.connection().execute(query, params).all()
    if not rows:
        return [], []
    identity_map = session.identity_map
    present = identity_map._dict
    identity_class = info.identity_class
    manager = mapper.class_manager
    cls = manager.class_
    new = cls.__new__
    # Each object's dict is a copy of one with every key already in it,
    # put in place whole: less work than filling the object's own dict,
    # which is resized as it grows. A class with its own __new__ may
    # have put something there already, so it keeps its dict.
    plain_new = new is object.__new__
    template = dict.fromkeys([*keys, manager.STATE_ATTR])
    make_state = manager._state_constructor
    state_attr = manager.STATE_ATTR
    session_id = session.hash_key
    pk_positions = [keys.index(k) for k in info.pk_keys]
    single = pk_positions[0] if len(pk_positions) == 1 else None
    made = []
    append = made.append
    map_ref = identity_map._wr
    states = []
    append_state = states.append
    identities = []
    append_identity = identities.append
    primary_keys = []
    append_key = primary_keys.append
    for row in rows:
        if single is not None:
            pk = (row[single],)
        else:
            pk = tuple([row[i] for i in pk_positions])
        identity = (identity_class, pk, None)
        if identity in present:
            return None
        obj = new(cls)
        state = make_state(obj, manager)
        values = template.copy()
        values.update(zip(keys, row))
        values[state_attr] = state
        if plain_new:
            obj.__dict__ = values
        else:
            obj.__dict__.update(values)
        state.key = identity
        state.session_id = session_id
        state._instance_dict = map_ref
        append(obj)
        append_state(state)
        append_identity(identity)
        append_key(pk)
    # What identity_map._add_unpresent() does per state, at C speed.
    present.update(zip(identities, states))
    return made, primary_keys


def _loading_usable() -> bool:
    """Whether this SQLAlchemy still has the identity-map attributes that
    load_chunk() sets the way the ORM's loader (`_add_unpresent()`) does."""
    from sqlalchemy.orm import Session

    identity_map = Session().identity_map
    return (
        hasattr(identity_map, "_add_unpresent")
        and hasattr(identity_map, "_wr")
        and hasattr(identity_map, "_dict")
        and usable()
    )


_LOADING = _loading_usable()
