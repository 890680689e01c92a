"""gunicorn wsgi:app. A bad setting or policy stops start-up with one line, not a traceback."""

import sys

from routes import create_app
from telephony.config import ConfigError, Settings
from telephony.policy import PolicyError

try:
    app = create_app(Settings.from_env())
except (ConfigError, PolicyError) as exc:
    print(f"cannot start: {exc}", file=sys.stderr)
    sys.exit(2)
