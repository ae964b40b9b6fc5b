"""The ``cramcog`` command line.

Each sub-command lives in its own module under ``cramcog/commands/`` and defines
``register(subparsers)``; this file only discovers them. Modules import heavy libraries (torch,
triton) inside their handlers, so ``cramcog --help`` stays fast.

Examples
--------
>>> from cramcog.cli import build_parser
>>> "fit" in build_parser().format_help()
True
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import cramcog.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cramcog", description="CRAM memory consolidation: models, fits, human data.")
    parser.add_argument("--version", action="version", version=f"cramcog {cramcog.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cramcog.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"cramcog.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `cramcog ... | head` closed the pipe: not an error
        return 0
    except (ValueError, FileNotFoundError) as err:  # user errors: one clear line, no traceback
        print(f"cramcog {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the file system said no: one line with what to do
        print(f"cramcog {args.command}: error: {os_error_message(err)}", file=sys.stderr)
        return 2


def os_error_message(err: OSError) -> str:
    """One line for an OSError: what failed, on which path, and what to do.

    Examples
    --------
    >>> import errno
    >>> os_error_message(OSError(errno.ENOSPC, "No space left on device", "runs/x/record.nc"))
    'no space left on the device writing runs/x/record.nc: free some space or choose another --out'
    """
    import errno

    where = err.filename or "a file"
    hints = {
        errno.ENOSPC: f"no space left on the device writing {where}: free some space or choose "
                      "another --out",
        errno.EACCES: f"permission denied on {where}: choose a folder you can write (--out)",
        errno.EPERM: f"not permitted on {where}: choose a folder you can write (--out)",
        errno.EROFS: f"{where} is on a read-only file system: choose another --out",
        errno.ENOTDIR: f"{where}: part of this path is a file, not a folder: choose another --out",
        errno.EISDIR: f"{where} is a folder where a file was expected",
        errno.EEXIST: f"{where} exists and is not a folder: choose another --out",
    }
    return hints.get(err.errno, f"{err.strerror or err} ({where})")


if __name__ == "__main__":
    sys.exit(main())
