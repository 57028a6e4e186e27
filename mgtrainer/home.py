"""Where mgtrainer keeps what it builds and fetches (envs, tools, models): $MGT_HOME, else the user's cache
dir. Light and importable by every layer (the env layer's envs and the driver's packaged models)."""

from __future__ import annotations

import os
from pathlib import Path


def mgt_home() -> Path:
    if os.environ.get("MGT_HOME"):
        return Path(os.environ["MGT_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mgtrainer"))


def models_home() -> Path:
    """Real models fetched by `mgtrainer model get NAME`, one folder each (models_home() / NAME)."""
    return mgt_home() / "models"
