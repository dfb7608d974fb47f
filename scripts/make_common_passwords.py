"""Write src/quietshop/accounts/common_passwords.txt from zxcvbn's ranked password list.

Run: .venv/bin/python scripts/make_common_passwords.py

The list is shipped as a data file rather than read from zxcvbn at run time because it sits in
zxcvbn's internal module `frequency_lists`, whose format has changed between releases (plain
lists, then comma-joined strings): the policy should not change, or break, with an upgrade.
tests/accounts/test_passwords.py checks that the file still matches the installed zxcvbn.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "src/quietshop/accounts/common_passwords.txt"

# MIT licence: the copyright and permission notice travel with the copied list.
HEADER = """\
# Common passwords, most common first: the ranked "passwords" list of zxcvbn,
# taken from the zxcvbn Python package {version} by scripts/make_common_passwords.py.
# One password per line, lower case; lines starting with "#" are comments.
#
# Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc. (zxcvbn)
# Copyright (c) 2016 Daniel Wolf (zxcvbn-python)
#
# Permission is hereby granted, free of charge, to any person obtaining a copy
# of this software and associated documentation files (the "Software"), to deal
# in the Software without restriction, including without limitation the rights
# to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
# copies of the Software, and to permit persons to whom the Software is
# furnished to do so, subject to the following conditions:
#
# The above copyright notice and this permission notice shall be included in all
# copies or substantial portions of the Software.
#
# THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
# FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
# AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
# LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
# OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
# SOFTWARE.
"""


def zxcvbn_passwords() -> list[str]:
    """zxcvbn's ranked password list, whichever of its storage formats this release uses."""
    # An internal module without type hints, hence imported by name; main() checks entries.
    frequency_lists = importlib.import_module("zxcvbn.frequency_lists")
    entries = frequency_lists.FREQUENCY_LISTS["passwords"]
    if isinstance(entries, str):
        entries = entries.split(",")
    return [str(entry) for entry in entries if entry]


def main() -> None:
    passwords = zxcvbn_passwords()
    # A "#" entry would read as a comment; zxcvbn has none, and this keeps it that way.
    assert not any(entry.startswith("#") or entry != entry.strip() for entry in passwords)
    text = HEADER.format(version=version("zxcvbn")) + "\n".join(passwords) + "\n"
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {len(passwords)} passwords to {TARGET}")


if __name__ == "__main__":
    main()
