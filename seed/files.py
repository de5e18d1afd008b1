"""Seed files on disk: finding the shipped ones and reading any into graph documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from graph.documents import GraphDocument, parse_yaml, read_document_file, validate_document
from graph.errors import ValidationError

SEED_DIR = Path(__file__).resolve().parent


def shipped_seed_files() -> list[Path]:
    """Every seed file shipped with threatgraph, in a stable order."""
    return sorted(SEED_DIR.glob("*.yaml"))


def _source_text(path: Path, data: object) -> str | None:
    """The verbatim source text a seed file names in source.text_file, if any."""
    if not isinstance(data, dict) or not isinstance(data.get("source"), dict):
        return None
    name = data["source"].get("text_file")
    if name is None:
        return None
    text_path = path.parent / str(name)
    try:
        return text_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(
            str(path), [f"source.text_file: cannot read {text_path}: {error}"]
        ) from None


def read_seed_file(path: Path) -> GraphDocument:
    """Parse and validate one seed file (quotes checked against its source text)."""
    text = read_document_file(path)
    data, lines = parse_yaml(text, str(path))
    return validate_document(data, str(path), lines, _source_text(path, data))


def read_seed_files(paths: Sequence[Path]) -> list[GraphDocument]:
    """Validate every file before returning any, reporting all failing files at once."""
    documents: list[GraphDocument] = []
    failures: list[ValidationError] = []
    for path in paths:
        try:
            documents.append(read_seed_file(path))
        except ValidationError as error:
            failures.append(error)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        problems = [f"{f.origin}: {p}" for f in failures for p in f.problems]
        raise ValidationError(f"{len(failures)} seed files", problems)
    return documents
