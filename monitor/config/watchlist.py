"""Pupil watch lists: names are kept only as salted hashes, never as text."""

from __future__ import annotations

from pathlib import Path


class WatchlistError(ValueError):
    """The pupil-name hash file cannot be used."""


def load_name_hashes(path: Path) -> frozenset[str]:
    """Read `sha256:<hex>` lines written by `orm-monitor watchlist hash`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise WatchlistError(
            f"cannot read pupil_name_hashes_file {path}: {error.strerror}"
        ) from None
    hashes = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    bad = [h for h in hashes if not (h.startswith("sha256:") and len(h) == 71)]
    if bad:
        raise WatchlistError(
            f"{path}: {len(bad)} line(s) are not sha256 hashes; the file must hold only the "
            "output of 'orm-monitor watchlist hash', never names"
        )
    return frozenset(hashes)
