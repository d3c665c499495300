"""The product's sources (src/) on the path; adsim's fixtures come from the installed plugin."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
