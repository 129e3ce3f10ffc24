"""Print a per-notebook duration table at the end of the test run."""
import collections
import os

_durations = collections.defaultdict(float)
_failed = set()


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _durations[path] += report.duration
        if report.failed:
            _failed.add(path)


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    tr = terminalreporter
    profile = os.environ.get("D2LT_PROFILE") or "default"
    tr.section(f"notebook durations ({profile} profile)")
    for path, secs in sorted(_durations.items()):
        over = profile == "ci" and secs > 90  # the CI budget per notebook
        flag = "  FAILED" if path in _failed else ("  over the 90 s budget" if over else "")
        tr.write_line(f"{secs:7.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_durations.values()):7.1f} s  total over {len(_durations)} notebooks")
