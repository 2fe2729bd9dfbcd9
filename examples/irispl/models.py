"""Species, their measured flowers, and the statistics of each species."""

from corral import db


class Name(db.Model):
    """One iris species."""

    __tablename__ = "Name"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), unique=True)

    def __repr__(self):
        return f"<Name {self.name!r} {self.id}>"


class Observation(db.Model):
    """The four measurements of one flower, in centimetres."""

    __tablename__ = "Observation"

    id = db.Column(db.Integer, primary_key=True)
    name_id = db.Column(db.Integer, db.ForeignKey("Name.id"), nullable=False)
    name = db.relationship("Name", backref=db.backref("observations"))
    sepal_length = db.Column(db.Float, nullable=False)
    sepal_width = db.Column(db.Float, nullable=False)
    petal_length = db.Column(db.Float, nullable=False)
    petal_width = db.Column(db.Float, nullable=False)

    def __repr__(self):
        return f"<Observation {self.name.name} {self.id}>"


MEASURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


class Statistics(db.Model):
    """Mean, minimum and maximum of each measurement of one species.

    A row whose mean_sepal_length is 0 has not been computed yet.
    """

    __tablename__ = "Statistics"

    id = db.Column(db.Integer, primary_key=True)
    name_id = db.Column(
        db.Integer, db.ForeignKey("Name.id"), nullable=False, unique=True
    )
    name = db.relationship(
        "Name", backref=db.backref("statistics"), uselist=False
    )
    mean_sepal_length = db.Column(db.Float, nullable=False)
    mean_sepal_width = db.Column(db.Float, nullable=False)
    mean_petal_length = db.Column(db.Float, nullable=False)
    mean_petal_width = db.Column(db.Float, nullable=False)
    min_sepal_length = db.Column(db.Float, nullable=False)
    min_sepal_width = db.Column(db.Float, nullable=False)
    min_petal_length = db.Column(db.Float, nullable=False)
    min_petal_width = db.Column(db.Float, nullable=False)
    max_sepal_length = db.Column(db.Float, nullable=False)
    max_sepal_width = db.Column(db.Float, nullable=False)
    max_petal_length = db.Column(db.Float, nullable=False)
    max_petal_width = db.Column(db.Float, nullable=False)

    def __repr__(self):
        return f"<Statistics of {self.name.name!r}>"
