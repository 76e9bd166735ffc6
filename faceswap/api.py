"""The Python API: what the CLI calls and what scripts and `batch` use.

It wires stages together and nothing more; each stage lives in its package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .data.faceset import iter_faceset
from .extract.contact_sheet import contact_sheet
from .extract.options import ExtractOptions
from .extract.pipeline import ExtractSummary, extract_source
from .faces.backends import make_backend

__all__ = ["ExtractOptions", "ExtractResult", "extract"]


@dataclass
class ExtractResult:
    summaries: list[ExtractSummary]
    contact_sheet: Path | None = None

    @property
    def faces(self) -> int:
        return sum(s.faces for s in self.summaries)

    @property
    def interrupted(self) -> bool:
        return any(s.interrupted for s in self.summaries)


def extract(inputs: str | Path | Sequence[str | Path], faceset: str | Path,
            options: ExtractOptions | None = None, progress: bool = True) -> ExtractResult:
    """Extract aligned face crops of every input (video, image folder or image) into `faceset`.

    Running it again on the same inputs and faceset resumes: frames already
    recorded in the faceset's alignments files are not processed again.
    """
    options = options or ExtractOptions()
    options.validate()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    backend = make_backend(options.detector, options.confidence)
    summaries = []
    try:
        for path in inputs:
            summary = extract_source(path, faceset, options, backend=backend, progress=progress)
            summaries.append(summary)
            if summary.interrupted:
                break
    finally:
        backend.close()
    sheet = None
    if options.preview:
        sources = {str(Path(p).resolve()) for p in inputs}
        records = [r for r in iter_faceset(faceset) if r.meta.get("source") in sources]
        sheet = contact_sheet(records, Path(faceset) / "contact_sheet.png")
    return ExtractResult(summaries, sheet)
