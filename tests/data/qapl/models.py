"""Stars with their flux and magnitude, and the flares found among them."""

from corral import db


class Star(db.Model):
    """A star of the catalogue; its magnitude is computed from its flux."""

    __tablename__ = "Star"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), nullable=False, unique=True)
    flux = db.Column(db.Float, nullable=False)
    magnitude = db.Column(db.Float, nullable=True)
    flares = db.relationship("Flare", back_populates="star")

    def __repr__(self):
        return f"<Star {self.name} flux={self.flux} mag={self.magnitude}>"


class Flare(db.Model):
    """A star seen brighter than settings.FLARE_MAGNITUDE."""

    __tablename__ = "Flare"

    id = db.Column(db.Integer, primary_key=True)
    star_id = db.Column(db.Integer, db.ForeignKey("Star.id"), nullable=False)
    star = db.relationship("Star", back_populates="flares")
    magnitude = db.Column(db.Float, nullable=False)

    def __repr__(self):
        return f"<Flare of {self.star.name} at mag {self.magnitude:.2f}>"
