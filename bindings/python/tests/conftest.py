import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
FIXTURES = ROOT / "Tests" / "Fixtures"
DEMO = ROOT / "demo"
