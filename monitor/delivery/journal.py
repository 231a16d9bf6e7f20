"""A local, fsync'd record of every accepted delivery, written before the database is told.

Between a provider accepting a message and the outbox row being marked, the process can die or
the database can be locked. The journal is one append and one fsync on local disk, so that
window shrinks to microseconds; on restart the dispatcher reads it before sending again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path


class SentJournal:
    """Append-only lines `key<TAB>provider id`, one per accepted delivery."""

    FILE_NAME = "sent-journal.tsv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> SentJournal:
        """The service's journal: every process delivering for it must share this one file."""
        return cls(Path(state_dir) / cls.FILE_NAME)

    def record(self, key: str, provider_message_id: str | None) -> None:
        """Durably note that `key` was accepted by its provider."""
        line = f"{_clean(key)}\t{_clean(provider_message_id or '')}\n".encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def lookup(self, key: str) -> str | None:
        """The provider id recorded for `key` ('' if none was given), or None if not recorded."""
        wanted = _clean(key)
        for found, provider_id in self._entries():
            if found == wanted:
                return provider_id
        return None

    def prune(self, keep: Iterable[str]) -> None:
        """Rewrite the journal with only the keys still unsettled in the database."""
        keep = {_clean(key) for key in keep}
        with self._lock:
            lines = [f"{k}\t{p}\n" for k, p in self._entries() if k in keep]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(lines), encoding="utf-8")
            os.replace(tmp, self.path)

    def _entries(self) -> list[tuple[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            key, _, provider_id = line.partition("\t")
            entries.append((key, provider_id))
        return entries


def _clean(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
