"""The embedded broker: kombu's filesystem transport, with message files written atomically.

kombu's ``_put`` creates the message file in the queue folder and only then writes it; a
consumer polling in between moves the still-empty file away and fails to decode it. In a
Celery worker that is "Unrecoverable error: JSONDecodeError": the worker stops and the
message is lost. Here the message is written under a name consumers skip (they only take
``*.<queue>.msg``) and renamed into place, which is atomic, so they only see whole files.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


#: Longest wait for a message before the worker's loop gets control back. Celery's loop for
#: polling transports asks for 2 s and looks for a shutdown request only between waits, so
#: an idle worker took seconds to start a warm shutdown (SIGTERM, Ctrl-C).
MAX_DRAIN_SECONDS = 0.25


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:
        capped = MAX_DRAIN_SECONDS if timeout is None else min(timeout, MAX_DRAIN_SECONDS)
        return super().drain_events(connection, timeout=capped)
