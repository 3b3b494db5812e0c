"""Medians of ringcache-stall JSON lines (prefixed by 'round=N server=S ')
read from stdin; argv: scenario, server (for the label)."""
import json
import statistics
import sys

rows = [json.loads(line.split(" ", 2)[2]) for line in sys.stdin if line.strip()]
if not rows:
    sys.exit(0)


def med(key):
    return statistics.median(r[key] for r in rows)


print(
    f"{sys.argv[1]:<15} {sys.argv[2]:<10} command {med('command_ms'):9.1f} ms"
    f"  pings {med('pings'):7.0f}  p50 {med('p50_ms'):7.3f} ms"
    f"  p99 {med('p99_ms'):8.3f} ms  max {med('max_ms'):8.3f} ms"
)
