"""The Corral framework's implementation. Import it as `corral`."""

import logging

__version__ = "0.9.0"

# Library code only logs; the program decides where the records go.
logging.getLogger("corral").addHandler(logging.NullHandler())
