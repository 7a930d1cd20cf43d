"""How the run was started: program, command line, Python, git state, installed packages.

Everything here runs on the context thread after ``init`` returns, never on the training path. A
missing ``git``, a folder that is not a repository, a detached HEAD or a huge diff each give a
clear entry in ``metadata["skipped"]`` instead of an error.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GIT_TIMEOUT = 10.0


def program_info() -> dict[str, Any]:
    """The program (script or notebook), working directory, command line, Python."""
    info: dict[str, Any] = {
        "cwd": os.getcwd(),
        "args": list(sys.argv[1:]),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]) if sys.argv else None,
        "python": sys.version.split()[0],
        "executable": sys.executable,
    }
    notebook = notebook_path()
    if notebook is not None:
        info["program"] = notebook
        info["notebook"] = {"path": notebook, "name": os.path.basename(notebook)}
    elif sys.argv and sys.argv[0] and sys.argv[0] not in ("-c", "-m"):
        info["program"] = os.path.abspath(sys.argv[0])
    elif sys.argv and sys.argv[0] == "-m":
        info["program"] = "-m"
    return info


def notebook_path() -> str | None:
    """The notebook this kernel runs, when the Jupyter server told the kernel (JupyterLab 4 does)."""
    if "ipykernel" not in sys.modules:
        return None
    for var in ("JPY_SESSION_NAME", "__session__"):
        value = os.environ.get(var)
        if value and value.endswith(".ipynb"):
            return os.path.abspath(value)
    main = sys.modules.get("__main__")
    session = getattr(main, "__session__", None)
    if isinstance(session, str) and session.endswith(".ipynb"):
        return os.path.abspath(session)
    return None


def _git(args: list[str], cwd: str) -> str:
    import subprocess

    out = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
    )
    return out.stdout.decode("utf-8", "replace").strip()


def git_info(cwd: str, max_diff_bytes: int, skipped: list[str]) -> tuple[dict[str, Any], str | None]:
    """``(facts, diff)``: repository root, remote, branch, commit, dirty flag, and the diff of
    uncommitted changes against HEAD (cut at ``max_diff_bytes`` with a marker), or ``({}, None)``
    outside a repository. What could not be read is appended to ``skipped``."""
    import subprocess

    try:
        root = _git(["rev-parse", "--show-toplevel"], cwd)
    except FileNotFoundError:
        skipped.append("git: the git command is not installed")
        return {}, None
    except subprocess.CalledProcessError:
        return {}, None  # not a repository: nothing to record
    except (subprocess.TimeoutExpired, OSError) as exc:
        skipped.append(f"git: {exc}")
        return {}, None
    info: dict[str, Any] = {"root": root}
    for key, args in (
        ("commit", ["rev-parse", "HEAD"]),
        ("branch", ["symbolic-ref", "--short", "-q", "HEAD"]),
        ("remote_url", ["remote", "get-url", "origin"]),
    ):
        try:
            info[key] = _git(args, root) or None
        except subprocess.CalledProcessError:
            info[key] = None  # no commit yet, a detached HEAD, no origin
        except (subprocess.TimeoutExpired, OSError) as exc:
            skipped.append(f"git {key}: {exc}")
    if info.get("branch") is None and info.get("commit"):
        info["detached"] = True
    diff: str | None = None
    try:
        status = _git(["status", "--porcelain", "--untracked-files=no"], root)
        info["dirty"] = bool(status)
        if status and info.get("commit"):
            raw = subprocess.run(
                ["git", "diff", "HEAD", "--no-color", "--no-ext-diff"], cwd=root, capture_output=True,
                timeout=GIT_TIMEOUT, check=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
            ).stdout
            if len(raw) > max_diff_bytes:
                cut = raw[:max_diff_bytes].decode("utf-8", "ignore")
                diff = cut + (
                    f"\n\n# tracker: diff truncated: {len(raw)} bytes, the first {max_diff_bytes} are kept "
                    "(setting max_diff_bytes)\n"
                )
                info["diff_truncated"] = True
                skipped.append(f"git diff: {len(raw)} bytes, cut to {max_diff_bytes}")
            else:
                diff = raw.decode("utf-8", "replace")
            info["diff_bytes"] = len(raw)
    except subprocess.CalledProcessError as exc:
        skipped.append(f"git status/diff: {exc.stderr.decode('utf-8', 'replace').strip()[:200]}")
    except (subprocess.TimeoutExpired, OSError) as exc:
        skipped.append(f"git status/diff: {exc}")
    return info, diff


_packages_cache: list[str] | None = None


def installed_packages() -> list[str]:
    """``name==version`` of every distribution on ``sys.path``, sorted by name.

    Read from the names of the ``*.dist-info`` / ``*.egg-info`` folders (``name-version.dist-info``),
    not from each package's METADATA: ~5 ms instead of ~300 ms in a large environment, so listing
    them does not compete with the training loop. Listed once per process.
    """
    global _packages_cache
    if _packages_cache is not None:
        return list(_packages_cache)
    seen: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            for suffix in (".dist-info", ".egg-info"):
                if folder.endswith(suffix):
                    stem = folder[: -len(suffix)]
                    name, _, version = stem.partition("-")
                    if name and version and name.lower() not in seen:
                        seen[name.lower()] = f"{name}=={version.split('-')[0]}"
    _packages_cache = [seen[k] for k in sorted(seen)]
    return list(_packages_cache)
