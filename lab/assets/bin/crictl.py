#!/usr/bin/python3
# certroll kubeadm lab: crictl stand-in. Lists the containers the lab's kubelet stand-in runs on this host (found by hostname
# under @HOSTS_DIR@), in crictl 1.29's formats:
#   crictl ps [-a|--all] [--name REGEX] [--state STATE] [--pod ID] [-q|--quiet] [-o|--output json|table] [--no-trunc] [ID]
#   crictl inspect [-o json] ID...    (an ID prefix is enough, as with the real one)
#   crictl pods [-q]                  crictl logs [--tail N] ID            crictl version / info (fixed text)
# A container's id is new on every start; its state is CONTAINER_RUNNING or CONTAINER_EXITED (with exit code and times).
# Not modelled: images, pulls, exec, stop/rm (stop a pod by moving its manifest out, as kubeadm users do), pod sandboxes
# beyond their id and name, namespaces other than kube-system.
import datetime, hashlib, json, os, re, socket, sys, time
HOSTS_DIR = "@HOSTS_DIR@"
host = socket.gethostname()

def fail(msg, code=1):
    sys.stderr.write('E%s %s\n' % (time.strftime('%m%d %H:%M:%S'), msg))
    sys.exit(code)

def load():
    try:
        with open(os.path.join(HOSTS_DIR, host, 'run', 'containers.json')) as f:
            cs = json.load(f)['containers']
    except (OSError, ValueError):
        cs = []
    out = []
    for c in cs:
        c = dict(c)
        if c['status'] == 'running':
            try:
                with open('/proc/%d/stat' % c['pid']) as f:
                    alive = f.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
            except OSError:
                alive = False
            if not alive:  # exited; the kubelet has not recorded it yet
                c.update(status='exited', exitCode=c.get('exitCode', 0), finished=time.time())
        out.append(c)
    return sorted(out, key=lambda c: -c['created'])

def state(c):
    return 'CONTAINER_RUNNING' if c['status'] == 'running' else 'CONTAINER_EXITED'

def image_ref(c):
    return 'sha256:' + hashlib.sha256(c['image'].encode()).hexdigest()

def ns(t):
    return str(int(t * 1e9))

def rfc3339(t):
    if not t:
        return '0001-01-01T00:00:00Z'
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f') + '000Z'

def labels(c):
    return {
        'io.kubernetes.container.name': c['name'],
        'io.kubernetes.pod.name': c.get('podName', c['name'] + '-' + host),
        'io.kubernetes.pod.namespace': 'kube-system',
        'io.kubernetes.pod.uid': c.get('podId', '')[:32],
    }

def ago(t):
    d = max(0, time.time() - t)
    if d < 1: return 'Less than a second ago'
    if d < 60: return '%d seconds ago' % d
    if d < 120: return 'About a minute ago'
    if d < 3600: return '%d minutes ago' % (d // 60)
    if d < 7200: return 'About an hour ago'
    if d < 172800: return '%d hours ago' % (d // 3600)
    return '%d days ago' % (d // 86400)

def find(cs, prefix):
    m = [c for c in cs if c['id'].startswith(prefix)]
    if not m:
        fail('getting the status of the container "%s": rpc error: code = NotFound desc = an error occurred when try to find container "%s": not found' % (prefix, prefix))
    if len(m) > 1:
        fail('getting the status of the container "%s": more than one container matches this prefix' % prefix)
    return m[0]

def table(head, rows):
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for r in [head] + rows:
        print(''.join(v.ljust(max(w + 3, 20)) if i < len(r) - 1 else v for i, (v, w) in enumerate(zip(r, widths))).rstrip())

def parse_flags(argv, with_value):
    flags, pos = {}, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith('--') and '=' in a:
            k, v = a[2:].split('=', 1); flags[k] = v
        elif a in with_value:
            if i + 1 >= len(argv): fail('flag needs an argument: %s' % a)
            flags[with_value[a]] = argv[i + 1]; i += 1
        elif a.startswith('-') and len(a) > 1:
            for part in ([a[2:]] if a.startswith('--') else list(a[1:])):
                flags[{'a': 'all', 'q': 'quiet', 'v': 'verbose'}.get(part, part)] = True
        else:
            pos.append(a)
        i += 1
    return flags, pos

args = sys.argv[1:]
while args and args[0].startswith('-'):  # global flags: --runtime-endpoint X, --timeout X, --debug
    args = args[2:] if args[0] in ('-r', '--runtime-endpoint', '-i', '--image-endpoint', '-t', '--timeout', '-c', '--config') else args[1:]
if not args:
    print('NAME:\n   crictl - client for CRI (certroll lab stand-in)\n\nCOMMANDS: ps, inspect, pods, logs, version, info')
    sys.exit(0)
cmd, rest = args[0], args[1:]

if cmd == 'version':
    print('Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v1.7.13-certroll-lab\nRuntimeApiVersion:  v1')
    sys.exit(0)
if cmd == 'info':
    print(json.dumps({'status': {'conditions': [{'type': 'RuntimeReady', 'status': True}, {'type': 'NetworkReady', 'status': True}]}}, indent=2))
    sys.exit(0)

if cmd == 'ps':
    flags, pos = parse_flags(rest, {'--name': 'name', '--state': 'state', '-s': 'state', '--pod': 'pod', '-p': 'pod', '-o': 'output', '--output': 'output',
                                    '--label': 'label', '--id': 'id', '--image': 'image', '--last': 'last', '-n': 'last'})
    cs = load()
    want_state = flags.get('state')
    if want_state:
        st = want_state.lower()
        if st not in ('created', 'running', 'exited', 'unknown'):
            fail('unsupported state: "%s"' % want_state)
        cs = [c for c in cs if c['status'] == st]
    elif not flags.get('all'):
        cs = [c for c in cs if c['status'] == 'running']
    if 'name' in flags:
        try:
            rx = re.compile(flags['name'])
        except re.error as e:
            fail('invalid --name regex: %s' % e)
        cs = [c for c in cs if rx.search(c['name'])]
    if 'pod' in flags:
        cs = [c for c in cs if c.get('podId', '').startswith(flags['pod'])]
    ids = pos[:1] or ([flags['id']] if 'id' in flags else [])
    if ids:
        cs = [c for c in cs if c['id'].startswith(ids[0])]
    if 'last' in flags:
        cs = cs[:int(flags['last'])]
    if flags.get('quiet'):
        for c in cs: print(c['id'])
        sys.exit(0)
    if flags.get('output') in ('json', 'yaml'):
        out = {'containers': [{
            'id': c['id'], 'podSandboxId': c.get('podId', ''),
            'metadata': {'name': c['name'], 'attempt': c.get('restarts', 0)},
            'image': {'image': c['image'], 'annotations': {}, 'userSpecifiedImage': ''},
            'imageRef': image_ref(c), 'state': state(c), 'createdAt': ns(c['created']),
            'labels': labels(c), 'annotations': {'io.kubernetes.container.restartCount': str(c.get('restarts', 0))},
        } for c in cs]}
        print(json.dumps(out, indent=2))
        sys.exit(0)
    trunc = (lambda s: s) if flags.get('no-trunc') else (lambda s: s[:13])
    rows = [[trunc(c['id']), trunc(image_ref(c)[7:]), ago(c['created']), 'Running' if c['status'] == 'running' else 'Exited',
             c['name'], str(c.get('restarts', 0)), trunc(c.get('podId', '')), c.get('podName', c['name'] + '-' + host)] for c in cs]
    table(['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD'], rows)
    sys.exit(0)

if cmd == 'inspect':
    flags, pos = parse_flags(rest, {'-o': 'output', '--output': 'output'})
    if not pos:
        fail('ID cannot be empty')
    cs = load()
    docs = []
    for prefix in pos:
        c = find(cs, prefix)
        running = c['status'] == 'running'
        docs.append({
            'status': {
                'id': c['id'], 'metadata': {'attempt': c.get('restarts', 0), 'name': c['name']}, 'state': state(c),
                'createdAt': rfc3339(c['created']), 'startedAt': rfc3339(c['created']),
                'finishedAt': rfc3339(None if running else c.get('finished')), 'exitCode': 0 if running else c.get('exitCode', 0),
                'image': {'annotations': {}, 'image': c['image'], 'userSpecifiedImage': ''}, 'imageRef': image_ref(c),
                'reason': '' if running else ('Completed' if c.get('exitCode', 0) == 0 else 'Error'), 'message': '',
                'labels': labels(c), 'annotations': {'io.kubernetes.container.restartCount': str(c.get('restarts', 0))},
                'mounts': [], 'logPath': '/var/log/pods/kube-system_%s_%s/%s/%d.log' % (c.get('podName', ''), c.get('podId', '')[:32], c['name'], c.get('restarts', 0)),
            },
            'info': {'sandboxID': c.get('podId', ''), 'pid': c.get('pid', 0) if running else 0, 'runtimeSpec': {'process': {'args': c['command']}}},
        })
    for d in docs:
        print(json.dumps(d, indent=2))
    sys.exit(0)

if cmd == 'pods':
    flags, pos = parse_flags(rest, {'--name': 'name', '-o': 'output', '--output': 'output', '--state': 'state', '-s': 'state'})
    seen = {}
    for c in load():
        if c['status'] == 'running' and c.get('podId') and c['podId'] not in seen:
            seen[c['podId']] = c
    if flags.get('quiet'):
        for i in seen: print(i)
        sys.exit(0)
    table(['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME'],
          [[i[:13], ago(c['created']), 'Ready', c.get('podName', ''), 'kube-system', '0', '(default)'] for i, c in seen.items()])
    sys.exit(0)

if cmd == 'logs':
    flags, pos = parse_flags(rest, {'--tail': 'tail'})
    if not pos:
        fail('ID cannot be empty')
    c = find(load(), pos[0])
    try:
        with open(os.path.join(HOSTS_DIR, host, 'log', c['name'] + '.log'), errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    if 'tail' in flags:
        lines = lines[-int(flags['tail']):] if int(flags['tail']) > 0 else []
    for line in lines: print(line)
    sys.exit(0)

fail('crictl (certroll lab stand-in): unsupported command "%s"; supported: ps, inspect, pods, logs, version, info' % cmd)
