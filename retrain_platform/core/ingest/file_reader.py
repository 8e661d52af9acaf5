"""Child process that parses landing files, so a parser crash cannot take the caller down.

Reads a JSON list of {"id", "path"} on stdin, writes each parsed frame to `<out_dir>/<id>.arrow`
and prints one JSON line per file: {"id": .., "rows": ..} or {"id": .., "error": ".."}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from retrain_platform.core.bounded import clip_text
from retrain_platform.core.ingest.landing import read_file


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1])
    for job in json.loads(sys.stdin.read()):
        try:
            frame = read_file(Path(job["path"]))
            frame.write_ipc(out_dir / f"{job['id']}.arrow")
            report = {"id": job["id"], "rows": frame.height}
        except Exception as exc:  # noqa: BLE001 - every parse failure is reported per file
            report = {"id": job["id"], "error": clip_text(f"{type(exc).__name__}: {exc}")}
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
