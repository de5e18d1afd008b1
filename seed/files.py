"""Seed files on disk: finding the shipped ones and reading any into graph documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from graph.errors import ValidationError
from graph.model.document_yaml import MAX_DOCUMENT_BYTES, parse_yaml, read_document_file
from graph.model.documents import combine_failures, validate_document
from graph.model.records import GraphDocument

SEED_DIR = Path(__file__).resolve().parent


def shipped_seed_files() -> list[Path]:
    """Every seed file shipped with threatgraph, in a stable order."""
    return sorted(SEED_DIR.glob("*.yaml"))


def _source_text(path: Path, data: object, lines: Mapping[str, int]) -> str | None:
    """The verbatim source text a seed file names in source.text_file, if any.

    The text file is named relative to the seed file and must lie beside it
    (or below it), be UTF-8 and no larger than a document.
    """
    if not isinstance(data, dict) or not isinstance(data.get("source"), dict):
        return None
    name = data["source"].get("text_file")
    if name is None:
        return None
    where = f"line {lines.get('source.text_file', 1)}: source.text_file"
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(str(path), [f"{where}: must be a file name"])
    base = path.resolve().parent
    text_path = (base / name).resolve()
    if Path(name).is_absolute() or not text_path.is_relative_to(base):
        raise ValidationError(
            str(path), [f"{where}: {name!r} must be a relative path beside or below the seed file"]
        )
    try:
        if text_path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise ValidationError(
                str(path), [f"{where}: {name} is larger than {MAX_DOCUMENT_BYTES} bytes"]
            )
        return text_path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError(
            str(path), [f"{where}: cannot read {name}: {error.strerror}"]
        ) from None
    except UnicodeDecodeError as error:
        raise ValidationError(
            str(path), [f"{where}: {name} is not UTF-8 text (byte {error.start})"]
        ) from None


def read_seed_file(path: Path) -> GraphDocument:
    """Parse and validate one seed file: it must have a source with its text
    (source.text_file), and every claim a quote found verbatim in that text."""
    text = read_document_file(path)
    data, lines = parse_yaml(text, str(path))
    source_text = _source_text(path, data, lines)
    problems = _missing_source(data, lines)
    try:
        document = validate_document(data, str(path), lines, source_text, require_quotes=True)
    except ValidationError as error:
        raise ValidationError(str(path), problems + error.problems) from None
    if problems:
        raise ValidationError(str(path), problems)
    return document


def _missing_source(data: object, lines: Mapping[str, int]) -> list[str]:
    if not isinstance(data, dict):
        return []
    source = data.get("source")
    if source is None:
        return ["line 1: source: is required (the statement whose word the file records)"]
    if isinstance(source, dict) and source.get("text_file") is None:
        return [
            f"line {lines.get('source', 1)}: source.text_file: is required "
            "(the statement's text, so that quotes can be checked)"
        ]
    return []


def read_seed_files(paths: Sequence[Path]) -> list[GraphDocument]:
    """Validate every file before returning any, reporting all failing files at once."""
    documents: list[GraphDocument] = []
    failures: list[ValidationError] = []
    for path in paths:
        try:
            documents.append(read_seed_file(path))
        except ValidationError as error:
            failures.append(error)
    if failures:
        raise combine_failures(failures)
    return documents
