"""One table of sources, as a survey catalogue would have."""

from corral import db


class Source(db.Model):
    """A detected source: position, flux, and what the steps derive."""

    __tablename__ = "Source"

    id = db.Column(db.Integer, primary_key=True)
    ra = db.Column(db.Float, nullable=False)
    dec = db.Column(db.Float, nullable=False)
    flux = db.Column(db.Float, nullable=False)
    flux_err = db.Column(db.Float, nullable=False)
    mag = db.Column(db.Float)
    snr = db.Column(db.Float)
    kind = db.Column(db.Integer)
    heavy_a = db.Column(db.Float)
    heavy_b = db.Column(db.Float)
