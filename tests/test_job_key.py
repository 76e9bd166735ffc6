"""provenance.job_key: the key batch compares to skip a shot or segment whose output is current."""

from __future__ import annotations

import json

from faceswap.convert.options import ConvertOptions
from faceswap.provenance import build_record, job_key, record_job_key


def test_job_key_follows_inputs_and_settings_and_matches_the_record(tmp_path):
    plate = tmp_path / "sh010.txt"
    plate.write_text("frames")
    settings = ConvertOptions().to_dict()
    key = job_key({"input": plate}, None, settings)
    record = json.loads(json.dumps(build_record({"input": plate}, None, settings, "swap")))
    assert record_job_key(record) == key
    # overwrite changes how a run behaves, not what it writes
    assert job_key({"input": plate}, None, {**settings, "overwrite": True}) == key
    assert job_key({"input": plate}, None, {**settings, "blur": settings["blur"] + 1}) != key
    plate.write_text("other frames")
    assert job_key({"input": plate}, None, settings) != key
    assert record_job_key({"format": "something else"}) is None
