#!/usr/bin/python3
# certroll lab: docker stand-in. Supports 'docker ps [-a|--all] [-q|--quiet]'; lists the containers the lab's kubelet
# stand-in runs on this host (found by hostname under @HOSTS_DIR@).
import json, os, socket, sys, time
HOSTS_DIR = "@HOSTS_DIR@"
args = sys.argv[1:]
if not args or args[0] != 'ps':
    sys.stderr.write("docker (certroll lab stand-in): only 'docker ps [-a] [-q]' is supported\n")
    sys.exit(1)
show_all = any(a in ('-a', '--all') for a in args[1:])
quiet = any(a in ('-q', '--quiet') for a in args[1:]) or '-aq' in args or '-qa' in args
show_all = show_all or '-aq' in args or '-qa' in args
host = socket.gethostname()
try:
    with open(os.path.join(HOSTS_DIR, host, 'run', 'containers.json')) as f:
        containers = json.load(f)['containers']
except (OSError, ValueError):
    containers = []

def ago(t):
    d = max(0, time.time() - t)
    if d < 1: return 'Less than a second'
    if d < 60: return '%d seconds' % d
    if d < 120: return 'About a minute'
    if d < 3600: return '%d minutes' % (d // 60)
    if d < 7200: return 'About an hour'
    if d < 172800: return '%d hours' % (d // 3600)
    return '%d days' % (d // 86400)

rows = []
for c in sorted(containers, key=lambda c: -c['created']):
    running = c['status'] == 'running'
    if not running and not show_all:
        continue
    if running:
        try:
            with open('/proc/%d/stat' % c['pid']) as f:
                alive = f.read().rsplit(')', 1)[1].split()[0] != 'Z'
        except OSError:
            alive = False
        if not alive:  # exited, the kubelet has not recorded it yet
            running = False
            c = dict(c, exitCode=0, finished=time.time())
            if not show_all:
                continue
    cmd = ' '.join(c['command'])
    cmd = '"' + (cmd[:19] + '\u2026' if len(cmd) > 20 else cmd) + '"'
    status = ('Up ' + ago(c['created'])) if running else ('Exited (%d) %s ago' % (c['exitCode'], ago(c['finished'])))
    name = 'k8s_%s_%s-%s_kube-system_%s_%d' % (c['name'], c['name'], host, c['id'][32:64], c['restarts'])
    rows.append([c['id'][:12], c['image'], cmd, ago(c['created']) + ' ago', status, '', name])
if quiet:
    for r in rows: print(r[0])
    sys.exit(0)
head = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']
widths = [max(len(x) for x in col) for col in zip(head, *rows)]
for r in [head] + rows:
    print('   '.join(v.ljust(w) for v, w in zip(r[:-1], widths[:-1])) + '   ' + r[-1])
