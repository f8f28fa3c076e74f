"""Section 3 of benchmark_speed.py: the start-up of `rnncli tag` beside Python's and NumPy's."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from harness import log, run, take_turns
from speed.shared import STARTUP_SENTENCE, Bench, Row

from rnncli.loader import default_model_path

RUNS_PER_REPEAT = 5  # each run is well under a second: more runs for a steady median


def section(b: Bench) -> list[Row]:
    script = Path(sys.executable).parent / "rnncli"
    rnncli_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rnncli"]
    bundled = default_model_path()
    model = [] if bundled.exists() else ["--model", str(b.tutorial_model())]
    ours_cmd = [*rnncli_cmd, "tag", *model, STARTUP_SENTENCE]
    shown = " ".join(["rnncli tag", *(["--model tutorial.npz"] if model else []), f'"{STARTUP_SENTENCE}"'])
    which = "bundled model" if not model else "tutorial-size model: the bundled one is not built yet"
    if not script.exists():
        which += f"; no console script at {script}, so `python -m rnncli`"
    commands = {"rnncli": ours_cmd, "numpy": [sys.executable, "-c", "import numpy"],
                "pass": [sys.executable, "-c", "pass"]}
    for cmd in commands.values():
        run(cmd)
    runs = RUNS_PER_REPEAT * b.sizes.repeats
    log(f"[startup] {runs} runs of each command ...")
    times = take_turns({key: lambda cmd=cmd: run(cmd) for key, cmd in commands.items()}, runs)
    median = {k: statistics.median(v) for k, v in times.items()}
    what = f"`{shown}` ({which})"
    data = {"runs": runs, **{f"{k}_seconds": v for k, v in times.items()}}
    return [Row("startup", what, f"{median['rnncli']:.3f} s", '`python -c "import numpy"`',
                f"{median['numpy']:.3f} s", median["rnncli"] / median["numpy"], data),
            Row("startup", what, f"{median['rnncli']:.3f} s", "`python -c pass`",
                f"{median['pass']:.3f} s", median["rnncli"] / median["pass"])]
