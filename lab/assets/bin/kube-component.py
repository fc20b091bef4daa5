#!/usr/bin/python3
# certroll kubeadm lab: kube-controller-manager and kube-scheduler stand-in (one program installed under both names; which
# one it is comes from its name), started by the kubelet stand-in from their manifests with the real flags.
# At start it reads --kubeconfig (server, certificate-authority-data, client-certificate[-data], client-key[-data]; the key
# stays in memory: an anonymous memfd, never a file) and calls the apiserver's /readyz with that client certificate, again
# after 0.25 s, then up to every 1 s, until one call succeeds (the real ones keep retrying too). It serves HTTPS /healthz on --bind-address:
# --secure-port (default 10257 / 10259) with a self-signed certificate made at start, like the real ones without
# --tls-cert-file: 200 "ok" once the call succeeded, else 500 "[-]apiserver failed: REASON" (a bad kubeconfig shows there).
# Not modelled: leader election, controllers, scheduling, the authentication/authorization kubeconfigs.
import base64, http.server, os, socketserver, ssl, subprocess, sys, threading, time, urllib.request

me = os.path.basename(sys.argv[0])
default_port = {'kube-controller-manager': 10257, 'kube-scheduler': 10259}.get(me)
if default_port is None:
    sys.stderr.write('certroll lab stand-in: run me as kube-controller-manager or kube-scheduler, not %s\n' % me)
    sys.exit(1)
opts = {}
for a in sys.argv[1:]:
    if a.startswith('--') and '=' in a:
        k, v = a[2:].split('=', 1)
        opts[k] = v
if 'kubeconfig' not in opts:
    sys.stderr.write('%s (certroll lab stand-in): missing --kubeconfig\n' % me)
    sys.exit(1)

def mem_file(data, name):
    fd = os.memfd_create(name)
    os.write(fd, data)
    return '/proc/self/fd/%d' % fd

def kubeconfig(path):
    """The first cluster's server and CA and the first user's credentials of a kubeconfig as kubeadm writes them."""
    v = {}
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith('- '): s = s[2:]
            if ':' not in s: continue
            k, val = s.split(':', 1)
            val = val.strip().strip('"\'')
            if k in ('server', 'certificate-authority-data', 'certificate-authority', 'client-certificate-data', 'client-key-data', 'client-certificate', 'client-key') and k not in v:
                v[k] = val
    def read(kd, kf):
        if kd in v: return base64.b64decode(v[kd])
        if kf in v:
            with open(v[kf], 'rb') as f: return f.read()
        raise ValueError('%s: no %s or %s' % (path, kd, kf))
    if 'server' not in v: raise ValueError('%s: no server' % path)
    return v['server'], read('certificate-authority-data', 'certificate-authority'), read('client-certificate-data', 'client-certificate'), read('client-key-data', 'client-key')

state = {'ok': False, 'why': 'not called yet'}
try:
    server, ca, cert, key = kubeconfig(opts['kubeconfig'])
    client = ssl.create_default_context(cadata=ca.decode())
    client.load_cert_chain(mem_file(cert + b'\n' + key, 'client'))
except Exception as e:  # a broken kubeconfig: serve /healthz failing, as the real one would not get far
    server, client = None, None
    state['why'] = 'cannot use %s: %s' % (opts['kubeconfig'], e)

def call_apiserver():
    delay = 0.25
    while client is not None:
        try:
            with urllib.request.urlopen(server + '/readyz', context=client, timeout=3) as r:
                r.read()
                state.update(ok=True, why='')
                print('%s %s: apiserver %s accepted %s' % (time.strftime('%H:%M:%S'), me, server, opts['kubeconfig']), flush=True)
                return
        except Exception as e:
            why = '%s: %s' % (server, getattr(e, 'reason', e))
            if why != state['why']:
                print('%s %s: calling the apiserver failed: %s' % (time.strftime('%H:%M:%S'), me, why), flush=True)
            state['why'] = why
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split('?', 1)[0]
        if path in ('/healthz', '/livez', '/readyz'):
            code, body = (200, 'ok') if state['ok'] else (500, '[-]apiserver failed: %s\nhealthz check failed' % state['why'])
        else:
            code, body = 404, '404 page not found'
        data = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, fmt, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    def handle_error(self, request, client_address):
        pass

bind = opts.get('bind-address', '127.0.0.1')
port = int(opts.get('secure-port', default_port))
pem = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '-', '-out', '-',
                      '-days', '365', '-subj', '/CN=%s-ca@%d' % (bind, time.time()), '-addext', 'subjectAltName=IP:%s,DNS:localhost' % bind],
                     check=True, capture_output=True).stdout
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(mem_file(pem, 'serving'))
srv = Server((bind, port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Thread(target=call_apiserver, daemon=True).start()
print('%s (certroll lab stand-in): serving https://%s:%d/healthz' % (me, bind, port), flush=True)
srv.serve_forever()
