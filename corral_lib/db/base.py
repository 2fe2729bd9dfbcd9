"""The declarative base every pipeline model derives from."""

from sqlalchemy import MetaData
from sqlalchemy.orm import declarative_base

# Named constraints let migrations on SQLite (batch mode) and on the server
# databases find and alter constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Attribute keys a model's constructor may store directly, per class.
_plain_keys: dict = {}


def _plain_column_keys(cls) -> frozenset:
    """Column attributes with no attribute events (such as @validates)."""
    keys = _plain_keys.get(cls)
    if keys is None:
        from sqlalchemy import inspect

        mapper = inspect(cls)
        keys = frozenset(
            prop.key for prop in mapper.column_attrs
            if not len(mapper.class_manager[prop.key].dispatch.set)
        )
        _plain_keys[cls] = keys
    return keys


def _constructor(self, **kwargs):
    """Set the given attributes, as SQLAlchemy's default constructor does.

    A loader makes one object per input row, and setting each attribute
    through SQLAlchemy's instrumentation costs more than the database
    insert. A new object has no history to keep, so plain column values
    are stored directly; anything else (relationships, attributes with
    validators or set events, properties) is set as usual.
    """
    cls = type(self)
    plain = _plain_column_keys(cls)
    values = self.__dict__
    for key, value in kwargs.items():
        if key in plain:
            values[key] = value
        elif not hasattr(cls, key):
            raise TypeError(
                f"{key!r} is an invalid keyword argument for {cls.__name__}"
            )
        else:
            setattr(self, key, value)


_constructor.__name__ = "__init__"

Model = declarative_base(
    name="Model", metadata=MetaData(naming_convention=NAMING_CONVENTION),
    constructor=_constructor,
)
