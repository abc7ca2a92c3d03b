"""Personal data: find it in a conversation, replace it with placeholders, put it back.

Below ``inference`` (which routes on it) and usable by skills through the SDK.
Nothing here logs or returns matched text except to the caller that asked for it
(the redaction map stays on the hub).
"""

from ._kinds import PersonalData
from ._redact import Redaction, Restorer, redact
from ._scan import Item, Scan, detect_personal_data, scan_texts

__all__ = [
    "Item",
    "PersonalData",
    "Redaction",
    "Restorer",
    "Scan",
    "detect_personal_data",
    "redact",
    "scan_texts",
]
