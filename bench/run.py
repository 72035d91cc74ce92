"""Run every benchmark (make bench). PostgreSQL is the target: set DATABASE_URL to a scratch DB."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
env = {**os.environ}
env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ledgerflow_bench")
for script, args in [("transfers.py", []), ("snapshots_exports.py", sys.argv[1:])]:
    print(f"\n### bench/{script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], env=env, check=True)
