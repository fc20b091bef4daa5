#!/usr/bin/python3
# certroll kubeadm lab: kube-apiserver stand-in, started by the kubelet stand-in from kube-apiserver.yaml with the real flags.
# Serves HTTPS on --bind-address:--secure-port with --tls-cert-file/--tls-private-key-file and asks every client for a
# certificate: one not chaining to --client-ca-file (or expired) fails the TLS handshake, none gets 401 (no anonymous access).
# Like the real one, every certificate (serving, client CA, etcd client) is loaded once, at start: new files on disk change
# nothing until a restart. To etcd (--etcd-servers) it speaks over mutual TLS with --etcd-certfile/--etcd-keyfile against
# --etcd-cafile, checked at start and at most every 0.5 s on /readyz (and /healthz).
#   /livez    200 "ok" while the process runs (the real one also fails on a long etcd outage)
#   /readyz   200 "ok" when etcd answered /health with {"health":"true"}, else 500 "[-]etcd failed: REASON"
#   /version  {"major":"1","minor":"29",...}; /api, /apis: discovery stubs; whoami: /apis/authentication.k8s.io/v1/selfsubjectreviews
# Every request is logged to stdout (the container's log) with the client certificate's subject.
# Not modelled: RBAC (any client certificate of the CA may do anything), resources, watch, admission, bootstrap tokens.
import http.server, json, socketserver, ssl, sys, threading, time, urllib.request

opts = {}
for a in sys.argv[1:]:
    if a.startswith('--') and '=' in a:
        k, v = a[2:].split('=', 1)
        opts[k] = v
    elif a.startswith('--'):
        opts[a[2:]] = 'true'
for need in ('tls-cert-file', 'tls-private-key-file', 'client-ca-file', 'etcd-servers', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile'):
    if need not in opts:
        sys.stderr.write('kube-apiserver (certroll lab stand-in): missing --%s\n' % need)
        sys.exit(1)

def fatal(what, e):
    sys.stderr.write('E%s run.go: %s: %s\n' % (time.strftime('%m%d %H:%M:%S'), what, e))
    sys.exit(1)

try:
    etcd_ctx = ssl.create_default_context(cafile=opts['etcd-cafile'])
    etcd_ctx.load_cert_chain(opts['etcd-certfile'], opts['etcd-keyfile'])
except (OSError, ssl.SSLError) as e:
    fatal('cannot load the etcd client certificate %s / %s / CA %s' % (opts['etcd-certfile'], opts['etcd-keyfile'], opts['etcd-cafile']), e)
servers = opts['etcd-servers'].split(',')
bind = opts.get('bind-address', opts.get('advertise-address', '0.0.0.0'))
port = int(opts.get('secure-port', '6443'))

lock = threading.Lock()
etcd_state = {'at': 0.0, 'ok': False, 'why': 'not checked yet'}

def etcd_check():
    with lock:
        if time.time() - etcd_state['at'] < 0.5:
            return etcd_state['ok'], etcd_state['why']
        errors = []
        ok = False
        for s in servers:
            try:
                with urllib.request.urlopen(s + '/health', context=etcd_ctx, timeout=2) as r:
                    if json.loads(r.read()).get('health') == 'true':
                        ok = True
                        break
                    errors.append(s + ': unhealthy')
            except Exception as e:
                errors.append('%s: %s' % (s, getattr(e, 'reason', e)))
        etcd_state.update(at=time.time(), ok=ok, why='; '.join(errors))
        return ok, etcd_state['why']

def subject_of(cert):
    parts = []
    for rdn in cert.get('subject', ()):
        for k, v in rdn:
            parts.append({'commonName': 'CN', 'organizationName': 'O'}.get(k, k) + '=' + v)
    return ','.join(parts)

def user_of(cert):
    user, groups = '', []
    for rdn in cert.get('subject', ()):
        for k, v in rdn:
            if k == 'commonName': user = v
            if k == 'organizationName': groups.append(v)
    return user, groups

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def reply(self, code, body, ctype='text/plain; charset=utf-8'):
        if isinstance(body, (dict, list)):
            body = json.dumps(body); ctype = 'application/json'
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        cert = self.connection.getpeercert()
        path = self.path.split('?', 1)[0]
        who = subject_of(cert) if cert else '-'
        print('%s %s %s client=%s' % (time.strftime('%H:%M:%S'), self.command, self.path, who), flush=True)
        if not cert:
            return self.reply(401, {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401})
        if path in ('/livez', '/healthz/ping', '/livez/ping'):
            return self.reply(200, 'ok')
        if path in ('/readyz', '/healthz', '/readyz/etcd', '/healthz/etcd', '/livez/etcd'):
            ok, why = etcd_check()
            return self.reply(200, 'ok') if ok else self.reply(500, '[-]etcd failed: %s\n%s check failed' % (why, path.strip('/').split('/')[0]))
        if path == '/version':
            return self.reply(200, {'major': '1', 'minor': '29', 'gitVersion': 'v1.29.6-certroll-lab', 'platform': 'linux/amd64'})
        if path == '/api':
            return self.reply(200, {'kind': 'APIVersions', 'versions': ['v1'], 'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '%s:%d' % (bind, port)}]})
        if path == '/apis':
            return self.reply(200, {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': []})
        if path.startswith('/apis/authentication.k8s.io/') and path.endswith('/selfsubjectreviews'):
            user, groups = user_of(cert)
            return self.reply(201 if self.command == 'POST' else 200, {'kind': 'SelfSubjectReview', 'apiVersion': 'authentication.k8s.io/v1', 'metadata': {},
                              'status': {'userInfo': {'username': user, 'groups': groups + ['system:authenticated']}}})
        return self.reply(404, {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'message': 'the server could not find the requested resource', 'reason': 'NotFound', 'code': 404})

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n: self.rfile.read(n)
        self.handle_any()

    def log_message(self, fmt, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # failed handshakes (no or a foreign client certificate) are the client's problem

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
try:
    ctx.load_cert_chain(opts['tls-cert-file'], opts['tls-private-key-file'])
except (OSError, ssl.SSLError) as e:
    fatal('failed to load the serving certificate %s / %s' % (opts['tls-cert-file'], opts['tls-private-key-file']), e)
try:
    ctx.load_verify_locations(cafile=opts['client-ca-file'])
except (OSError, ssl.SSLError) as e:
    fatal('failed to load --client-ca-file %s' % opts['client-ca-file'], e)
ctx.verify_mode = ssl.CERT_OPTIONAL

srv = Server((bind, port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)

# Handshake in the handler's thread, not in accept(): a slow or failing client must not block the others.
class Handler(H):
    def setup(self):
        self.connection = self.request
        try:
            self.connection.settimeout(10)
            self.connection.do_handshake()
        except (ssl.SSLError, OSError) as e:
            print('%s TLS handshake from %s failed: %s' % (time.strftime('%H:%M:%S'), self.client_address[0], e), flush=True)
            self.handshake_failed = True
            self.rfile = self.wfile = None
            return
        self.handshake_failed = False
        super().setup()

    def handle(self):
        if not getattr(self, 'handshake_failed', False):
            super().handle()

    def finish(self):
        if not getattr(self, 'handshake_failed', False):
            super().finish()

srv.RequestHandlerClass = Handler
ok, why = etcd_check()
print('kube-apiserver (certroll lab stand-in): serving https://%s:%d; etcd %s' % (bind, port, 'ok' if ok else 'not ready: ' + why), flush=True)
srv.serve_forever()
