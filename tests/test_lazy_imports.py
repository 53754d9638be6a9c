"""Heavy optional dependencies stay out of `import evalkit` and of the CLI's start-up."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["torch", "transformers", "lm_eval", "streamlit", "sklearn", "sacrebleu", "openai", "scipy", "rich", "vllm"]


def test_import_and_help_stay_light():
    code = (
        "import sys, evalkit, evalkit.cli.main as m\n"
        "try:\n    m.cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY:' + ','.join(n for n in {HEAVY!r} if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:", out
