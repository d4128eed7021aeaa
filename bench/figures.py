"""Headline figures of the benchmarks and the one summary table `python -m bench` prints."""

from __future__ import annotations

from dataclasses import dataclass

from bench.percentiles import number


@dataclass(frozen=True)
class Figure:
    """One headline number: which bench, what it is (with unit), its value, and what it is held against.

    ``ok`` is None when there is no pass/fail goal (a baseline or context figure).
    """

    bench: str
    name: str
    value: float
    against: str = ""
    ok: bool | None = None
    digits: int = 1


def verdict(ok: bool | None) -> str:
    if ok is None:
        return ""
    return "OK" if ok else "MISSED"


def print_figures(figures: list[Figure], title: str = "summary") -> None:
    width = max([len(f.name) for f in figures] + [30])
    header = f"{'bench':<11} {title_cell(title, width)} {'value':>12}  {'goal / baseline':<36} {'verdict':<7}"
    print()
    print(header)
    print("-" * len(header))
    for f in figures:
        print(
            f"{f.bench:<11} {f.name:<{width}} {number(f.value, f.digits):>12}  {f.against:<36} {verdict(f.ok):<7}"
        )


def title_cell(title: str, width: int) -> str:
    return f"{title:<{width}}"
