"""The bulk paths give the same rows and objects as the ORM's own.

Models here use their own declarative base (with Corral's constructor) so
they never join the pipeline metadata other tests create.
"""

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from corral_lib.db.base import _constructor
from corral_lib.run import bulk
from corral_lib.run.base import Step
from corral_lib.run.runner import iter_object_chunks

Base = orm.declarative_base(constructor=_constructor)


class Kind(Base):
    __tablename__ = "bulk_kind"
    id = sa.Column(sa.Integer, primary_key=True)
    label = sa.Column(sa.String(20), nullable=False)


class Star(Base):
    __tablename__ = "bulk_star"
    id = sa.Column(sa.Integer, primary_key=True)
    kind_id = sa.Column(sa.Integer, sa.ForeignKey("bulk_kind.id"))
    kind = orm.relationship("Kind", backref="stars")
    mag = sa.Column(sa.Float, nullable=False)
    seen = sa.Column(sa.DateTime)
    flag = sa.Column(sa.Integer, default=7)

    @orm.validates("mag")
    def check_mag(self, key, value):
        if value > 40:
            raise ValueError("too faint")
        return value


@pytest.fixture
def session():
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with orm.Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def test_constructor_keeps_validators_and_rejects_unknown_names():
    assert Star(mag=1.5).mag == 1.5
    with pytest.raises(ValueError, match="too faint"):
        Star(mag=41.0)
    with pytest.raises(TypeError, match="'colour' is an invalid keyword"):
        Star(mag=1.0, colour="red")


def test_bulk_insert_follows_many_to_one_and_defaults(session):
    import datetime as dt

    kind = Kind(label="giant")
    session.add(kind)
    session.commit()
    inserter = bulk.Inserter()
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    stars = [Star(kind=kind, mag=float(i), seen=when) for i in range(5)]
    assert all(inserter.offer(s) for s in stars)
    assert not inserter.offer(Star(kind=Kind(label="new"), mag=1.0))
    assert inserter.flush(session) == 5
    session.commit()
    rows = session.execute(sa.text(
        "SELECT kind_id, mag, seen, flag FROM bulk_star ORDER BY id")).all()
    assert rows == [(kind.id, float(i), "2026-01-02 03:04:05.000000", 7)
                    for i in range(5)]
    # The backref list, loaded now, holds the rows and no pending copies.
    assert sorted(s.mag for s in kind.stars) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_load_chunk_and_flush_updates_match_the_orm(session):
    session.add_all([Star(mag=float(i)) for i in range(1, 11)])
    session.commit()
    session.expunge_all()
    mapper = sa.inspect(Star)
    first, later = bulk.page_queries(mapper, [Star.mag > 3], Star.id, 4)
    objects, keys = bulk.load_chunk(session, mapper, first)
    assert [o.mag for o in objects] == [4.0, 5.0, 6.0, 7.0]
    assert keys == [(o.id,) for o in objects]
    following, _ = bulk.load_chunk(session, mapper, later,
                                   {"corral_after": keys[-1][0]})
    assert [o.mag for o in following] == [8.0, 9.0, 10.0]
    assert sa.inspect(objects[0]).persistent
    objects[0].mag = 40.0
    objects[1].mag = 5.0  # the same value: not a change
    objects[2].flag = 1
    # One key set to what it was, one changed: only the change is written.
    objects[3].mag = 7.0
    objects[3].flag = 2
    updates = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE"):
            rows = len(parameters) if executemany else 1
            updates.append((statement.split(" WHERE")[0], rows))

    sa.event.listen(session.get_bind(), "before_cursor_execute", seen)
    changed, left = bulk.flush_updates(session, objects)
    sa.event.remove(session.get_bind(), "before_cursor_execute", seen)
    assert (changed, left) == (3, 0)
    assert sorted(updates) == [("UPDATE bulk_star SET flag=?", 2),
                               ("UPDATE bulk_star SET mag=?", 1)]
    assert not session.dirty
    session.commit()
    assert session.execute(sa.text(
        "SELECT mag, flag FROM bulk_star WHERE id IN (4, 5, 6, 7) "
        "ORDER BY id"
    )).all() == [(40.0, 7), (5.0, 7), (6.0, 1), (7.0, 2)]
    # Already in the session: the ORM loads that page.
    assert bulk.load_chunk(session, mapper, first) is None


def test_this_sqlalchemy_has_what_the_fast_paths_use():
    # Both paths rely on SQLAlchemy internals; without them a step still
    # runs (see the next test), only slower, so a release that drops them
    # must be noticed here rather than in `make bench`.
    assert bulk.usable()
    assert bulk._loading_usable()


class Brighter(Step):
    model = Star
    conditions = [Star.mag > 3]


@pytest.mark.parametrize("fast", [True, False])
def test_chunks_are_the_same_with_or_without_the_fast_loader(
        session, monkeypatch, fast):
    monkeypatch.setattr(bulk, "_LOADING", fast)
    session.add_all([Star(mag=float(i)) for i in range(1, 11)])
    session.commit()
    session.expunge_all()
    chunks = list(iter_object_chunks(session, Brighter, 3))
    assert [[o.mag for o in objects] for objects, _ in chunks] == [
        [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0]]
    assert [keys for _, keys in chunks] == [
        [(4,), (5,), (6,)], [(7,), (8,), (9,)], [(10,)]]
    objects = [o for chunk, _ in chunks for o in chunk]
    assert all(sa.inspect(o).persistent for o in objects)
    for star in objects:
        star.flag = int(star.mag)
    changed, left = bulk.flush_updates(session, objects)
    # Star 7 already had flag 7 (the default): not a change.
    assert (changed, left) == (6, 0)
    session.commit()
    assert session.execute(sa.text(
        "SELECT flag FROM bulk_star ORDER BY id")).scalars().all() == [
        7, 7, 7, 4, 5, 6, 7, 8, 9, 10]
