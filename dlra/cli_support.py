"""What every ``dlra`` command shares: user errors as one line ``dlra CMD: error: …`` and exit
status 2 (``SystemExit(2)``, as argparse does; never a traceback), and the check that an output
directory is writable before any computation starts."""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

__all__ = ["CommandError", "CommandParser", "report", "writable_dir", "with_flag_names", "EXIT_USER_ERROR"]

#: exit status of a command stopped by a user error (argparse's convention)
EXIT_USER_ERROR = 2


class CommandError(Exception):
    """A user error of a command; the message names the flag or file to change."""


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are the one line ``PROG: error: MESSAGE`` (exit 2)."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def report(prog, error):
    """Print ``error`` as the one line ``PROG: error: …`` on stderr; return the exit status 2."""
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return EXIT_USER_ERROR


def writable_dir(path, flag):
    """Create the directory ``path`` (and its parents) and check that a file can be created in it;
    :class:`CommandError` naming ``flag`` and the path otherwise. Returns the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CommandError(f"{flag} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise CommandError(f"{flag} {path}: not a writable directory ({exc.strerror or exc})") from None
    return path


def with_flag_names(parser, message):
    """``message`` with a leading Python argument name (``lr must be …``, ``init_scale: …``)
    replaced by the command's flag for it (``--lr must be …``, ``--init-scale: …``)."""
    message = str(message)
    head = re.match(r"[A-Za-z_][A-Za-z0-9_]*", message)
    if head:
        for action in parser._actions:
            if action.dest == head.group(0) and action.option_strings:
                return action.option_strings[-1] + message[head.end():]
    return message
