"""The benchmarks' table: rows with ratio and PASS/MISS, and the machine."""

from __future__ import annotations

import platform
import sys
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """Versions of the libraries measured."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "jax",
        "jaxlib",
        "flax",
        "optax",
        "mujoco",
        "mujoco-mjx",
        "numpy",
        "polars",
        "torch",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def versions_line(found: dict[str, str] | None = None) -> str:
    """``versions: jax 0.x, ...`` of ``found`` (default: :func:`versions`)."""
    found = versions() if found is None else found
    return "versions: " + ", ".join(f"{k} {v}" for k, v in found.items())


def machine_lines() -> list[str]:
    """Where a result was measured: CPU, cores, load, library versions."""
    import os

    load = os.getloadavg()[0]
    return [
        f"CPU: {cpu_model()}; os.cpu_count() = {os.cpu_count()}; load "
        f"average {load:.2f} at the start",
        versions_line(),
    ]


class Table:
    """Rows of (what, value, compile s, ratio, target, result)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(
        self,
        what: str,
        value: float | str | None,
        unit: str = "",
        compile_s: float | None = None,
        ratio: float | None = None,
        ratio_of: str = "",
        target: float | None = None,
        better: str = "higher",
        fmt: str = ",.0f",
    ) -> None:
        """Add a row; PASS/MISS against ``target`` (on the ratio if any).

        A ``ratio_of`` starting with "%" shows the ratio as a percentage.
        """
        result = ""
        if target is not None:
            x = ratio if ratio_of else value
            if not isinstance(x, int | float):
                result = "n/a"
            elif better == "higher":
                result = "PASS" if x >= target else "MISS"
            else:
                result = "PASS" if x <= target else "MISS"
        self.rows.append(
            {
                "what": what,
                "value": value,
                "unit": unit,
                "compile_s": compile_s,
                "ratio": ratio,
                "ratio_of": ratio_of,
                "target": target,
                "better": better,
                "result": result,
                "fmt": fmt,
            }
        )

    @staticmethod
    def _cells(r: dict) -> tuple[str, ...]:
        v = r["value"]
        if isinstance(v, int | float):
            value = f"{v:{r['fmt']}} {r['unit']}".strip()
        else:
            value = "-" if v is None else str(v)
        comp = "" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
        percent = r["ratio_of"].startswith("%")
        if r["ratio"] is None:
            ratio = f"n/a ({r['ratio_of']})" if r["ratio_of"] else ""
        elif percent:
            ratio = f"{r['ratio']:.1f} {r['ratio_of']}"
        else:
            ratio = f"{r['ratio']:.2f}x {r['ratio_of']}"
        target = ""
        if r["target"] is not None:
            sign = ">=" if r["better"] == "higher" else "<="
            if percent:
                target = f"{sign} {r['target']:g} %"
            elif r["ratio_of"]:
                target = f"{sign} {r['target']:g}x"
            else:
                target = f"{sign} {r['target']:g} {r['unit']}".strip()
        return r["what"], value, comp, ratio, target, r["result"]

    def text(self) -> str:
        """The table as aligned text."""
        head = ("what", "value", "compile s", "ratio", "target", "result")
        cells = [head] + [self._cells(r) for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
        lines = [
            " | ".join(
                x.ljust(w) for x, w in zip(c, widths, strict=True)
            ).rstrip()
            for c in cells
        ]
        lines.insert(1, "-|-".join("-" * w for w in widths))
        return "\n".join(lines)


def not_a_command(module_file: str) -> None:
    """What a benchmark's helper module says when run: it is a part."""
    print(
        f"{Path(module_file).name} is a part of the benchmarks, imported by "
        "the bench_*.py scripts, not one to run: see benchmarks/README.md, "
        "or python benchmarks/bench_learning.py --help",
        file=sys.stderr,
    )
    raise SystemExit(2)


if __name__ == "__main__":
    not_a_command(__file__)
