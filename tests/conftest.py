import sys
from pathlib import Path

# Tests import the project the way __main__.py does: from its root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
