#!/usr/bin/python3
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
            body = b'ok' if ok else ('[-]etcd failed: %s\nhealthz check failed' % why).encode()
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
