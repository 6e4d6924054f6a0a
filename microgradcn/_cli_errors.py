"""The command line's error convention: one line ``microgradcn <command>: 中文 (English)`` and an exit status.

`CommandError` is a failure a command reports; `Parser` is argparse with its
own errors in the same form (the command's usage first), Chinese first.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from ._messages import bilingual

__all__ = ["USAGE", "FAILURE", "CommandError", "Parser", "usage_message"]

USAGE, FAILURE = 2, 1  # exit statuses: the command line is wrong / running it failed


class CommandError(Exception):
    """A failure the command reports as one line (exit status `status`: USAGE or FAILURE)."""

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.status = status


# argparse's messages are English; each kind gets its Chinese first. The first match wins.
_ARGPARSE_KINDS = (
    ("argument COMMAND: invalid choice", "没有这个子命令"),
    ("arguments are required: COMMAND", "缺少子命令(microgradcn --help 列出全部子命令)"),
    ("unrecognized arguments", "不认识的参数"),
    ("invalid choice", "不是可选的值"),
    ("arguments are required", "缺少参数"),
    ("expected one argument", "选项缺少取值"),
    ("not allowed with argument", "这两个选项不能同时使用"),
    ("ambiguous option", "选项有歧义"),
    ("argument ", "选项的取值不对"),
)


def usage_message(message: str) -> str:
    """One of argparse's error messages, Chinese first: ``不认识的参数 (unrecognized arguments: x)``."""
    chinese = next((zh for en, zh in _ARGPARSE_KINDS if en in message), "命令行有误")
    return bilingual(chinese, message)


class Parser(argparse.ArgumentParser):
    """argparse, with errors in the command line's form: the usage, then ``prog: message``; status 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: {usage_message(message)}\n")
