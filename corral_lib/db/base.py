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

Model = declarative_base(
    name="Model", metadata=MetaData(naming_convention=NAMING_CONVENTION)
)
