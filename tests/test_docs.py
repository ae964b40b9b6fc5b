"""Every place that cites docs/DESIGN.md names a section the document has; the repository cites no
file outside it."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the steering folder beside the checkout, which users do not have (spelt in parts: this file
# is itself one of the files searched)
OUTSIDE = re.compile(r"\.\./" + "shared" + "|" + "shared" + "/spec")
CITING = [*ROOT.glob("cramcog/**/*.py"), *ROOT.glob("kernels/*.py"), *ROOT.glob("tests/**/*.py"),
          ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("paper/*.md"),
          *ROOT.glob("docs/*.md")]


def headings(path):
    return {m.group(1).strip().lower()
            for m in re.finditer(r"^#+\s+(.+)$", path.read_text(), re.M)}


def test_design_citations_name_existing_sections():
    sections = headings(ROOT / "docs" / "DESIGN.md")
    cited = []
    for path in CITING:
        if path == Path(__file__):
            continue
        for m in re.finditer(r"docs/DESIGN\.md,? ([A-Za-z_][A-Za-z_ -]*?)[:)\n]", path.read_text()):
            cited.append((path.relative_to(ROOT), m.group(1).strip()))
    assert len(cited) >= 6
    missing = [(str(p), name) for p, name in cited if name.lower() not in sections]
    assert not missing, f"citations of docs/DESIGN.md sections it lacks: {missing}"


def test_nothing_cites_files_outside_the_repository():
    offenders = [str(p.relative_to(ROOT)) for p in CITING if p != Path(__file__)
                 and OUTSIDE.search(p.read_text())]
    assert not offenders, f"these cite files outside the repository: {offenders}"
