"""Keep notebook outputs out of git: nbstripout as a git filter, installed by `make setup`.

Reviewers run and save the notebooks in JupyterLab (autosave is on), so the files on disk hold
outputs. Git sees them through nbstripout's clean filter instead: no outputs, no execution counts,
no kernel version metadata, sequential cell ids. `git status` stays clean after a review session
and nothing of it can be committed by accident. `.gitattributes` (committed) names the filter; this
module configures it in the clone's own `.git/config`, pointing at this interpreter's nbstripout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .config import PROJ_ROOT
from .errors import WorkbookError

# Metadata JupyterLab rewrites on every save (the language's version and lexers), besides nbstripout's own list.
EXTRA_KEYS = "metadata.language_info"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def install(repo: Path = PROJ_ROOT, python: str = sys.executable) -> bool:
    """Configure the nbstripout filter in `repo`'s git config; False when `repo` is not a git work tree."""
    if _git(repo, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        return False
    command = f'"{python}" -m nbstripout'
    settings = {
        "filter.nbstripout.clean": command,
        "filter.nbstripout.smudge": "cat",
        # Not "required": after `make distclean` removes .venv, git keeps working (and warns).
        "filter.nbstripout.required": "false",
        "filter.nbstripout.extrakeys": EXTRA_KEYS,
        "diff.ipynb.textconv": f"{command} -t",
    }
    for key, value in settings.items():
        done = _git(repo, "config", key, value)
        if done.returncode:
            raise WorkbookError(f"git config {key} failed in {repo}: {done.stderr.strip()}")
    return True


if __name__ == "__main__":  # make setup
    try:
        install()
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
