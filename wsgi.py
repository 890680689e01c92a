"""gunicorn wsgi:app. A bad setting or policy stops start-up with one line, not a traceback.
`python wsgi.py --check` checks the settings and the policy without starting anything."""

import sys

from telephony.config import ConfigError, Settings
from telephony.policy.errors import PolicyError


def _cannot_start(exc: Exception) -> None:
    print(f"cannot start: {exc}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__" and sys.argv[1:] == ["--check"]:
    from routes import preflight

    try:
        preflight(Settings.from_env())
    except (ConfigError, PolicyError) as exc:
        _cannot_start(exc)
    sys.exit(0)

from routes import create_app  # noqa: E402

try:
    app = create_app(Settings.from_env())
except (ConfigError, PolicyError) as exc:
    _cannot_start(exc)
