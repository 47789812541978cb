"""A log handler for the tests that writes to sys.stderr as it is when a record is written.

logging.StreamHandler keeps the stream it was given at start-up; under pytest that is a capture
file which pytest closes after the test, so a live-server thread logging a request later wrote
"--- Logging error --- ValueError: I/O operation on closed file" into the test output.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


class CurrentStderrHandler(logging.StreamHandler):
    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # StreamHandler.__init__ sets it; the property above always answers
