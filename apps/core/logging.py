"""A last line of defence: personnummer-like digit runs never reach a log.

Code must not log personal data in the first place; this filter masks
anything shaped like a personnummer (10 or 12 digits, with or without a
separator) that slips through, in the message and in its arguments.
"""

from __future__ import annotations

import logging
import re

# Anything shaped like a personnummer: 10 or 12 digits, with or without a separator
# (also refused in free text that others will read: provider owners, rating comments).
# Digits inside a longer identifier (a task's UUID, a hash) are not a personnummer.
PERSONNUMMER_LIKE = re.compile(r"(?<![0-9A-Za-z])(?:\d{2})?\d{6}[-+ ]?\d{4}(?![0-9A-Za-z])")
MASK = "[personnummer]"


def redact(text: str) -> str:
    return PERSONNUMMER_LIKE.sub(MASK, text)


class RedactPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
