// The small programs the lab writes into its state dir: the namespace anchor, the kubelet, apiserver, flanneld and docker stand-ins, and the PKI generator.

/** First process of a lab host's mount+UTS namespace: sets the hostname, bind-mounts the host's own directories, then sleeps forever. */
export const anchorSh = `#!/bin/sh
# certroll lab: the anchor of one lab host (first process of its mount+UTS namespace).
# usage: anchor.sh NAME HOSTDIR   (HOSTDIR/mounts lists "SOURCE TARGET" bind mounts)
set -eu
name=$1
hostdir=$2
hostname "$name"
while read -r src dst; do
  [ -n "$src" ] || continue
  mount --bind "$src" "$dst"
done < "$hostdir/mounts"
echo $$ > "$hostdir/run/anchor.pid.tmp"
mv "$hostdir/run/anchor.pid.tmp" "$hostdir/run/anchor.pid"
exec sleep infinity
`;

/** Kubelet stand-in: runs every static-pod manifest in a directory, stops pods whose manifest is gone, records containers for docker ps. */
export const kubeletPy = `#!/usr/bin/python3
# certroll lab: kubelet stand-in. Every 0.1 s it lists the manifests directory (non-hidden regular files, like kubelet's
# --pod-manifest-path). A manifest present whose pod is not running: start spec.containers[0].command. A pod whose manifest is
# gone (or changed): SIGTERM, wait terminationGracePeriodSeconds, SIGKILL. A pod that exits on its own is restarted with backoff.
# Containers (running and exited) are recorded in STATE_FILE as JSON for the docker stand-in.
# usage: lab-kubelet MANIFEST_DIR STATE_FILE LOG_DIR
import json, os, signal, subprocess, sys, time, secrets

manifest_dir, state_file, log_dir = sys.argv[1:4]
POLL = 0.1
pods = {}      # manifest file name -> running/terminating pod record
exited = {}    # pod name -> last exited container record
backoff = {}   # manifest file name -> (next start time, current delay)
stopping = False

def unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in '"\\'':
        return s[1:-1]
    return s

def parse(text, fname):
    name = None; image = ''; cmd = []; grace = 10; in_cmd = False; cmd_indent = 0
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
        key = s[2:] if s.startswith('- ') else s
        if key == 'command:':
            in_cmd = True; cmd_indent = indent
        elif key.startswith('terminationGracePeriodSeconds:'):
            grace = int(key.split(':', 1)[1])
        elif key.startswith('image:') and not image:
            image = unquote(key.split(':', 1)[1])
        elif key.startswith('name:') and name is None:
            name = unquote(key.split(':', 1)[1])
    return {'name': name or fname.split('.')[0], 'image': image, 'command': cmd, 'grace': grace}

def write_state():
    now = time.time()
    out = []
    for p in pods.values():
        out.append({'id': p['id'], 'name': p['name'], 'image': p['image'], 'command': p['command'], 'created': p['created'],
                    'status': 'running', 'pid': p['proc'].pid, 'restarts': p['restarts'], 'manifest': p['file']})
    for e in exited.values():
        if not any(p['name'] == e['name'] for p in pods.values()):
            out.append(e)
    tmp = state_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'updated': now, 'containers': out}, f)
    os.replace(tmp, state_file)

def start(fname, spec, restarts):
    if not spec['command']:
        return
    log = open(os.path.join(log_dir, spec['name'] + '.log'), 'ab')
    log.write(('--- %s kubelet: starting %s\\n' % (time.strftime('%Y-%m-%dT%H:%M:%S'), ' '.join(spec['command']))).encode())
    log.flush()
    try:
        proc = subprocess.Popen(spec['command'], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd='/')
    except OSError as e:
        log.write(('kubelet: cannot start: %s\\n' % e).encode()); log.close()
        backoff[fname] = (time.time() + 2, 2)
        return
    log.close()
    pods[fname] = dict(spec, proc=proc, id=secrets.token_hex(32), created=time.time(), file=fname, restarts=restarts,
                       terminating=None, stat=None)

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
                                 'finished': now, 'restarts': p['restarts'], 'manifest': fname}
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
`;

/** docker CLI stand-in: `docker ps [-a] [-q]` from the kubelet stand-in's container record of this host. */
export function dockerPy(hostsDir: string): string {
  return `#!/usr/bin/python3
# certroll lab: docker stand-in. Supports 'docker ps [-a|--all] [-q|--quiet]'; lists the containers the lab's kubelet
# stand-in runs on this host (found by hostname under ${hostsDir}).
import json, os, socket, sys, time
HOSTS_DIR = ${JSON.stringify(hostsDir)}
args = sys.argv[1:]
if not args or args[0] != 'ps':
    sys.stderr.write("docker (certroll lab stand-in): only 'docker ps [-a] [-q]' is supported\\n")
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
    cmd = '"' + (cmd[:19] + '\\u2026' if len(cmd) > 20 else cmd) + '"'
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
`;
}

/** kube-apiserver stand-in: HTTPS /healthz on the host's address, ok while an etcd endpoint answers with the etcd client certs. */
export const apiserverPy = `#!/usr/bin/python3
# certroll lab: kube-apiserver stand-in. Serves HTTPS on --bind-address:--secure-port with --tls-cert-file/--tls-private-key-file.
# GET /healthz answers 200 "ok" when one of --etcd-servers answers /health with {"health":"true"} over mutual TLS using the
# etcd client certs, which (like the real apiserver) are loaded once at start; otherwise 500 with the reason.
import http.server, json, socketserver, ssl, sys, urllib.request

opts = {}
for a in sys.argv[1:]:
    if a.startswith('--') and '=' in a:
        k, v = a[2:].split('=', 1)
        opts[k] = v
etcd_ctx = ssl.create_default_context(cafile=opts['etcd-cafile'])
etcd_ctx.load_cert_chain(opts['etcd-certfile'], opts['etcd-keyfile'])
servers = opts['etcd-servers'].split(',')

def etcd_ok():
    errors = []
    for s in servers:
        try:
            with urllib.request.urlopen(s + '/health', context=etcd_ctx, timeout=2) as r:
                if json.loads(r.read()).get('health') == 'true':
                    return True, ''
                errors.append(s + ': unhealthy')
        except Exception as e:
            errors.append('%s: %s' % (s, e))
    return False, '; '.join(errors)

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith('/healthz') or self.path.startswith('/livez') or self.path.startswith('/readyz'):
            ok, why = etcd_ok()
            body = b'ok' if ok else ('[-]etcd failed: %s\\nhealthz check failed' % why).encode()
            self.send_response(200 if ok else 500)
        elif self.path.startswith('/version'):
            ok = True
            body = b'{"major":"1","minor":"14","gitVersion":"v1.14.3-tos-lab"}'
            self.send_response(200)
        else:
            body = b'404 page not found'
            self.send_response(404)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

srv = Server((opts['bind-address'], int(opts.get('secure-port', '6443'))), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(opts['tls-cert-file'], opts['tls-private-key-file'])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print('lab-apiserver: serving https://%s:%s' % (opts['bind-address'], opts.get('secure-port', '6443')), flush=True)
srv.serve_forever()
`;

/** flanneld stand-in: every second, reads the network config key from etcd (v3 JSON gateway) with the cert dir's certs, logs ok/FAIL. */
export const flanneldPy = `#!/usr/bin/python3
# certroll lab: flanneld stand-in. Loads the etcd client certs once at start (like flanneld), then every --interval seconds
# reads --etcd-prefix/config from etcd over mutual TLS and logs one line "ok ..." or "FAIL ...". Its pid is written to
# --pid-file; 'lab-flannel-restart' kills it and the kubelet stand-in starts a fresh one (with freshly loaded certs).
import base64, json, os, ssl, sys, time, urllib.request

opts = {'interval': '1', 'etcd-prefix': '/coreos.com/network'}
for a in sys.argv[1:]:
    if a.startswith('--') and '=' in a:
        k, v = a[2:].split('=', 1)
        opts[k] = v
if 'pid-file' in opts:
    with open(opts['pid-file'], 'w') as f:
        f.write('%d\\n' % os.getpid())
ctx = ssl.create_default_context(cafile=opts['etcd-cafile'])
ctx.load_cert_chain(opts['etcd-certfile'], opts['etcd-keyfile'])
key = base64.b64encode((opts['etcd-prefix'] + '/config').encode()).decode()
endpoints = opts['etcd-endpoints'].split(',')
print('%s flanneld: started, endpoints %s' % (time.strftime('%Y-%m-%dT%H:%M:%S'), ','.join(endpoints)), flush=True)
i = 0
while True:
    ep = endpoints[i % len(endpoints)]
    i += 1
    try:
        req = urllib.request.Request(ep + '/v3/kv/range', data=json.dumps({'key': key}).encode(), method='POST',
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, context=ctx, timeout=3) as r:
            kvs = json.loads(r.read()).get('kvs', [])
        if kvs:
            print('%s ok %s %s' % (time.strftime('%Y-%m-%dT%H:%M:%S'), ep, base64.b64decode(kvs[0]['value']).decode()), flush=True)
        else:
            print('%s FAIL %s: key %s/config not found' % (time.strftime('%Y-%m-%dT%H:%M:%S'), ep, opts['etcd-prefix']), flush=True)
    except Exception as e:
        print('%s FAIL %s: %s' % (time.strftime('%Y-%m-%dT%H:%M:%S'), ep, e), flush=True)
    time.sleep(float(opts['interval']))
`;

/** Restarts the flanneld stand-in of the host it runs on (the kubelet stand-in starts a new one). */
export function flannelRestartSh(hostsDir: string): string {
  return `#!/bin/sh
# certroll lab: restart this host's flanneld stand-in (like 'kubectl delete pod flannel-…'): SIGTERM to the pid in its pid
# file; the kubelet stand-in starts a fresh flanneld within about a second.
set -eu
pidfile=${JSON.stringify(hostsDir)}/$(hostname)/run/flanneld.pid
[ -s "$pidfile" ] || { echo "lab-flannel-restart: no flanneld pid file $pidfile" >&2; exit 1; }
kill -TERM "$(cat "$pidfile")"
echo "flanneld $(cat "$pidfile") stopped; the kubelet stand-in restarts it"
`;
}

/**
 * kubectl stand-in for the TOS procedure's flannel restart (step 11), so the shipped playbook runs unchanged on the lab:
 * `kubectl get po …` lists one flannel pod per lab host running the flanneld stand-in; `kubectl delete po NAME…` restarts
 * that host's flanneld (SIGTERM; its kubelet stand-in starts a new one), like deleting a DaemonSet pod.
 */
export function kubectlSh(hostsDir: string): string {
  return `#!/bin/sh
# certroll lab: kubectl stand-in (only what the TOS flannel restart uses: get po, delete po).
hosts=${JSON.stringify(hostsDir)}
case " $* " in
  *" get po"*|*" get pods"*)
    echo "NAME                        READY   STATUS    RESTARTS   AGE   NODE"
    for f in "$hosts"/*/run/flanneld.pid; do
      [ -s "$f" ] || continue
      h=$(basename "$(dirname "$(dirname "$f")")")
      echo "kube-flannel-ds-$h   1/1     Running   0          1h    $h"
    done ;;
  *" delete po"*|*" delete pod"*)
    n=0
    for a in "$@"; do
      case "$a" in
        kube-flannel-ds-*) h=\${a#kube-flannel-ds-}; kill -TERM "$(cat "$hosts/$h/run/flanneld.pid")" && echo "pod \"$a\" deleted" && n=$((n+1)) ;;
      esac
    done
    [ "$n" -gt 0 ] || { echo "error: resource name may not be empty" >&2; exit 1; } ;;
  *) echo "kubectl (certroll lab stand-in): only 'get po' and 'delete po' are supported" >&2; exit 1 ;;
esac
`;
}

/**
 * Generates the lab's original PKI with openssl into OUT: the etcd CA + one etcd leaf (expiring in DAYS days), and the
 * untouchable rest (Kubernetes CA, apiserver cert, admin client cert, token.csv, kubeconfig).
 * env: ETCD_SANS, API_SANS (openssl subjectAltName syntax), DAYS, SERVER (apiserver URL for the kubeconfig).
 */
export const genPkiSh = `#!/bin/bash
# certroll lab: generate the original (about to expire) TOS-like PKI with openssl.
# usage: gen-pki.sh OUTDIR   env: ETCD_SANS API_SANS DAYS SERVER
set -euo pipefail
out=$1
cd "$out"
umask 077
mkdir -p srv-kubernetes srv-kubernetes/ssl ca-key gencerts
cat > openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[etcd_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \${ENV::ETCD_SANS}
[api_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \${ENV::API_SANS}
[client_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
base="/C=CN/ST=Shanghai/L=Shanghai/O=k8s/OU=System"
# RSA keys take most of the time: make all five at once.
for k in etcd-ca etcd ca apiserver admin; do openssl genrsa -out "$k-key.pem" 2048 2>/dev/null & done
wait
ca() { # name subject days
  openssl req -x509 -new -config openssl.cnf -extensions v3_ca -key "$1-key.pem" -sha256 -days "$3" -subj "$2" \\
    -set_serial "0x$(openssl rand -hex 16)" -out "$1.pem"
}
leaf() { # name subject days ca ext
  openssl req -new -config openssl.cnf -key "$1-key.pem" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4-key.pem" -set_serial "0x$(openssl rand -hex 16)" -sha256 \\
    -days "$3" -extfile openssl.cnf -extensions "$5" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}
ca etcd-ca "$base/CN=etcd-ca" "$DAYS"
leaf etcd "$base/CN=etcd" "$((DAYS - 1))" etcd-ca etcd_leaf
ca ca "$base/CN=kubernetes" 3650
leaf apiserver "$base/CN=kubernetes" 3650 ca api_leaf
leaf admin "/C=CN/ST=Shanghai/L=Shanghai/O=system:masters/OU=System/CN=admin" 3650 ca client_leaf
mv etcd-ca.pem etcd.pem etcd-key.pem ca.pem apiserver.pem apiserver-key.pem srv-kubernetes/
mv etcd-ca-key.pem ca-key/
cp admin.pem srv-kubernetes/ssl/admin.pem
cp srv-kubernetes/ca.pem srv-kubernetes/ssl/ca.pem
echo "$(openssl rand -hex 16),admin,admin,\\"system:masters\\"" > srv-kubernetes/token.csv
cat > srv-kubernetes/kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /srv/kubernetes/ca.pem
    server: $SERVER
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: admin
  name: admin@kubernetes
current-context: admin@kubernetes
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 admin.pem)
    client-key-data: $(base64 -w0 admin-key.pem)
EOF
rm -f admin.pem admin-key.pem ca-key.pem openssl.cnf
chmod 0644 srv-kubernetes/*.pem srv-kubernetes/ssl/*.pem srv-kubernetes/kubeconfig
chmod 0600 srv-kubernetes/etcd-key.pem srv-kubernetes/apiserver-key.pem srv-kubernetes/token.csv ca-key/etcd-ca-key.pem
chmod 0755 srv-kubernetes srv-kubernetes/ssl
cp srv-kubernetes/etcd-ca.pem gencerts/etcd-ca.pem
cat > gencerts/config.json <<'EOF'
{
  "signing": {
    "default": {
      "expiry": "87600h"
    },
    "profiles": {
      "etcd": {
        "usages": ["signing", "key encipherment", "server auth", "client auth"],
        "expiry": "87600h"
      },
      "kubernetes": {
        "usages": ["signing", "key encipherment", "server auth", "client auth"],
        "expiry": "87600h"
      }
    }
  }
}
EOF
cat > gencerts/etcd-csr.json <<'EOF'
{
  "CN": "etcd",
  "key": { "algo": "rsa", "size": 2048 },
  "names": [{ "C": "CN", "ST": "Shanghai", "L": "Shanghai", "O": "k8s", "OU": "System" }]
}
EOF
chmod 0755 gencerts
chmod 0644 gencerts/*
`;
