"""The core never imports aiogram: adapters translate."""

from __future__ import annotations

import subprocess
import sys


def test_core_packages_do_not_import_aiogram() -> None:
    code = (
        "import sys\n"
        "import dialogues.messages, dialogues.ports, escalation.ports, models.assessment\n"
        "import outbox.types, storage.profiles, clock, bot.pipeline\n"
        "import importlib, pkgutil\n"
        "for pkg in ('dialogues', 'escalation', 'models', 'scheduling', 'outbox', 'storage'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram')\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
