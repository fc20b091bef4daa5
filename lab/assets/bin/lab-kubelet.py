#!/usr/bin/python3
# certroll lab: kubelet stand-in (TOS and kubeadm labs). Every 0.1 s it lists the manifests directory (non-hidden regular
# files, like kubelet's --pod-manifest-path). A manifest present whose pod is not running: start spec.containers[0].command
# (a new pod sandbox id and a new container id on every start). A pod whose manifest is gone (or changed): SIGTERM, wait
# terminationGracePeriodSeconds (default 30, like Kubernetes), SIGKILL. A pod that exits on its own is restarted with backoff
# in the same sandbox (attempt + 1). Containers (running and exited) are recorded in STATE_FILE as JSON for the docker and
# crictl stand-ins.
# usage: lab-kubelet MANIFEST_DIR STATE_FILE LOG_DIR
import json, os, signal, socket, subprocess, sys, time, secrets

manifest_dir, state_file, log_dir = sys.argv[1:4]
POLL = 0.1
pods = {}      # manifest file name -> running/terminating pod record
exited = {}    # pod name -> last exited container record
backoff = {}   # manifest file name -> (next start time, current delay)
stopping = False

def unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in '"\'':
        return s[1:-1]
    return s

def parse(text, fname):
    name = None; image = ''; cmd = []; grace = 30; in_cmd = False; cmd_indent = 0; labels = {}; in_labels = False; label_indent = 0
    for raw in text.splitlines():
        s = raw.strip()
        if not s or s.startswith('#'):
            continue
        indent = len(raw) - len(raw.lstrip())
        if in_cmd:
            if s.startswith('- ') and indent >= cmd_indent:
                cmd.append(unquote(s[2:]))
                continue
            in_cmd = False
        if in_labels:
            if indent > label_indent and ':' in s and not s.startswith('- '):
                k, v = s.split(':', 1)
                labels[k.strip()] = unquote(v)
                continue
            in_labels = False
        key = s[2:] if s.startswith('- ') else s
        if key == 'labels:' and not labels:
            in_labels = True; label_indent = indent
        elif key == 'command:':
            in_cmd = True; cmd_indent = indent
        elif key.startswith('terminationGracePeriodSeconds:'):
            grace = int(key.split(':', 1)[1])
        elif key.startswith('image:') and not image:
            image = unquote(key.split(':', 1)[1])
        elif key.startswith('name:') and name is None:
            name = unquote(key.split(':', 1)[1])
    return {'name': name or fname.split('.')[0], 'image': image, 'command': cmd, 'grace': grace, 'labels': labels}

def write_state():
    now = time.time()
    out = []
    for p in pods.values():
        out.append({'id': p['id'], 'name': p['name'], 'image': p['image'], 'command': p['command'], 'created': p['created'],
                    'status': 'running', 'pid': p['proc'].pid, 'restarts': p['restarts'], 'manifest': p['file'],
                    'podId': p['podId'], 'podName': p['name'] + '-' + HOSTNAME, 'labels': p['labels']})
    for e in exited.values():
        if not any(p['name'] == e['name'] for p in pods.values()):
            out.append(e)
    tmp = state_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'updated': now, 'containers': out}, f)
    os.replace(tmp, state_file)

HOSTNAME = socket.gethostname()
sandboxes = {}  # manifest file name -> pod sandbox id, kept while the manifest stays (restarts after a crash reuse it)

def start(fname, spec, restarts):
    if not spec['command']:
        return
    log = open(os.path.join(log_dir, spec['name'] + '.log'), 'ab')
    log.write(('--- %s kubelet: starting %s\n' % (time.strftime('%Y-%m-%dT%H:%M:%S'), ' '.join(spec['command']))).encode())
    log.flush()
    try:
        proc = subprocess.Popen(spec['command'], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd='/')
    except OSError as e:
        log.write(('kubelet: cannot start: %s\n' % e).encode()); log.close()
        backoff[fname] = (time.time() + 2, 2)
        return
    log.close()
    if restarts == 0 or fname not in sandboxes:
        sandboxes[fname] = secrets.token_hex(32)
    pods[fname] = dict(spec, proc=proc, id=secrets.token_hex(32), created=time.time(), file=fname, restarts=restarts,
                       terminating=None, stat=None, podId=sandboxes[fname])

def stat_key(path):
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)

def on_term(signum, frame):
    global stopping
    stopping = True

signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
write_state()
while True:
    changed = False
    now = time.time()
    present = {}
    if not stopping:
        try:
            for f in os.listdir(manifest_dir):
                path = os.path.join(manifest_dir, f)
                if f.startswith('.') or not os.path.isfile(path):
                    continue
                try:
                    present[f] = stat_key(path)
                except OSError:
                    pass
        except OSError:
            pass
    # reap and stop
    for fname, p in list(pods.items()):
        rc = p['proc'].poll()
        if rc is not None:
            del pods[fname]
            exited[p['name']] = {'id': p['id'], 'name': p['name'], 'image': p['image'], 'command': p['command'],
                                 'created': p['created'], 'status': 'exited', 'exitCode': rc if rc >= 0 else 128 - rc,
                                 'finished': now, 'restarts': p['restarts'], 'manifest': fname,
                                 'podId': p['podId'], 'podName': p['name'] + '-' + HOSTNAME, 'labels': p['labels'], 'pid': p['proc'].pid}
            if p['terminating'] is None and fname in present:
                delay = 0.5 if now - p['created'] > 10 else min(backoff.get(fname, (0, 0.25))[1] * 2, 5)
                backoff[fname] = (now + delay, delay)
            changed = True
            continue
        gone = fname not in present or (p['stat'] is not None and present[fname] != p['stat'])
        if gone and p['terminating'] is None:
            p['terminating'] = now + p['grace']
            try: os.kill(p['proc'].pid, signal.SIGTERM)
            except OSError: pass
        elif p['terminating'] is not None and now > p['terminating']:
            try: os.kill(p['proc'].pid, signal.SIGKILL)
            except OSError: pass
    if stopping:
        if not pods:
            write_state()
            sys.exit(0)
    else:
        for fname, key in present.items():
            if fname in pods:
                if pods[fname]['stat'] is None:
                    pods[fname]['stat'] = key
                continue
            if fname in backoff and backoff[fname][0] > now:
                continue
            try:
                with open(os.path.join(manifest_dir, fname)) as fh:
                    spec = parse(fh.read(), fname)
            except OSError:
                continue
            prev = exited.get(spec['name'])
            restarts = prev['restarts'] + 1 if prev and fname in backoff else 0
            start(fname, spec, restarts)
            if fname in pods:
                pods[fname]['stat'] = key
            changed = True
        for fname in list(backoff):
            if fname not in present:
                del backoff[fname]
    if changed:
        write_state()
    time.sleep(POLL)
