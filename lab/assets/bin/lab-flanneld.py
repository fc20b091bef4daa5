#!/usr/bin/python3
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
        f.write('%d\n' % os.getpid())
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
