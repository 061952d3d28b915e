"""The exchange file formats as layout tables and one generic codec; pure, no I/O.

Kinds (see :mod:`.kinds`): ``b2`` FSE lots, ``arl``, ``noemie-ps`` (580 return), ``decompte``
(B2 décomptes to a mutuelle), ``noemie-oc`` (the same in NOEMIE OC form), ``oc-answer`` and
``noemie-550``. Every parser raises only
:class:`FormatError`.
"""

from . import pack  # noqa: F401 - installs the built-in pack: every table comes from one
from .errors import Anomaly, FormatError
from .kinds import KINDS, FileKind, detect, explain

__all__ = ["KINDS", "Anomaly", "FileKind", "FormatError", "detect", "explain"]
