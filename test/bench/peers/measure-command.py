# Runs a command (argv after this script's name) and reports on fd 3, as one JSON object, what its
# whole process tree used: wall seconds from start to exit, CPU user/sys and the peak RSS of the
# largest process (getrusage(RUSAGE_CHILDREN), which covers every reaped descendant), and the tree's
# I/O counters (the kernel adds a reaped child's /proc io to its parent, so this wrapper's
# /proc/self/io after the wait, minus before the start, is the tree's). Stdio is passed through.
import json
import os
import resource
import subprocess
import sys
import time


def proc_io():
    fields = {}
    with open('/proc/self/io') as f:
        for line in f:
            name, value = line.split(':')
            fields[name] = int(value)
    return fields


def main():
    report = os.fdopen(3, 'w')
    argv = sys.argv[1:]
    before = proc_io()
    start = time.monotonic()
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as error:
        print(f'cannot start {argv[0]}: {error}', file=sys.stderr)
        json.dump({'exitCode': 127}, report)
        return 127
    code = child.wait()
    wall = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = proc_io()
    json.dump({
        'exitCode': code,
        'wallSec': wall,
        'userSec': usage.ru_utime,
        'sysSec': usage.ru_stime,
        'peakRssKiB': usage.ru_maxrss,
        'rchar': after['rchar'] - before['rchar'],
        'readBytes': after['read_bytes'] - before['read_bytes'],
        'writeBytes': after['write_bytes'] - before['write_bytes'],
    }, report)
    report.close()
    return 0 if code == 0 else 1


sys.exit(main())
