"""Print a per-notebook duration table at the end of the test run."""
import collections

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
    tr.section("notebook durations (CI profile)")
    for path, secs in sorted(_durations.items()):
        flag = "  FAILED" if path in _failed else ("  over 90 s" if secs > 90 else "")
        tr.write_line(f"{secs:7.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_durations.values()):7.1f} s  total over {len(_durations)} notebooks")
