// The kubeadm lab is what it claims (docs/lab.md, "The kubeadm lab"): real sshd per host, a healthy three-member etcd that
// accepts kubeadm's healthcheck-client certificate, apiserver stand-ins serving apiserver.crt and answering only client
// certificates of the cluster CA, four static pods per control-plane node seen by crictl, and a kubelet stand-in that stops a
// pod whose manifest goes and starts a new container when it comes back.
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { kubeadmLabSh, ssh, useKubeadmLab } from './kubeadm-lab-helpers.js';

const lab = useKubeadmLab();
const DAY = 86_400_000;

/** A command on a host, inside its namespaces (the SSH path is proven once, by the first test; this is cheaper). */
const sh = (address: string, command: string) => kubeadmLabSh(address, command, lab.dir);

/** The client certificate and key embedded in a kubeconfig as kubeadm writes it, and its CA. */
function kubeconfigCreds(text: string): { ca: string; cert: string; key: string } {
  const field = (k: string) => Buffer.from(new RegExp(`${k}: (\\S+)`).exec(text)![1]!, 'base64').toString();
  return { ca: field('certificate-authority-data'), cert: field('client-certificate-data'), key: field('client-key-data') };
}

/** GET https://address:port/path (the apiserver by default; the scheduler's self-signed certificate needs rejectUnauthorized: false). */
function get(address: string, path: string, tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean }, port = 6443): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: address, port, path, ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

interface CriContainer {
  id: string;
  metadata: { name: string };
  state: string;
}

async function crictlPs(address: string, args = ''): Promise<CriContainer[]> {
  return (JSON.parse(await sh(address, `crictl ps ${args} -o json`)) as { containers: CriContainer[] }).containers;
}

describe('the kubeadm lab', () => {
  it('every host answers OpenSSH with its own hostname; control-plane nodes hold kubeadm files, the worker only the kubelet\'s', async () => {
    expect(lab.controlPlane.length).toBe(3);
    expect(lab.workers.length).toBe(1);
    await Promise.all(lab.hosts.map(async (h) => {
      const r = await ssh(lab, h.address, 'hostname; ls /etc/kubernetes /etc/kubernetes/manifests /var/lib/kubelet/pki');
      expect(r.code, r.stderr).toBe(0);
      const [hostname, ...files] = r.stdout.trim().split('\n');
      expect(hostname).toBe(h.name);
      expect(files).toEqual(expect.arrayContaining(['kubelet.conf', 'kubelet-client-current.pem', 'kubelet.crt', 'kubelet.key', 'manifests', 'pki']));
      const cp = h.roles.includes('control-plane');
      for (const f of ['admin.conf', 'controller-manager.conf', 'scheduler.conf', 'etcd.yaml', 'kube-apiserver.yaml']) expect(files.includes(f), `${h.name} ${f}`).toBe(cp);
    }));
  });

  it('etcd has 3 healthy members, asked with etcdctl and kubeadm\'s healthcheck-client certificate', async () => {
    const h = lab.controlPlane[0]!;
    const eps = lab.controlPlane.map((c) => `https://${c.address}:2379`).join(',');
    const pki = '/etc/kubernetes/pki/etcd';
    const etcdctl = `ETCDCTL_API=3 etcdctl --endpoints=${eps} --cacert ${pki}/ca.crt --cert ${pki}/healthcheck-client.crt --key ${pki}/healthcheck-client.key`;
    const [out, members] = (await sh(h.address, `${etcdctl} endpoint health -w json; echo @@@@; ${etcdctl} member list`)).split('@@@@\n');
    const health = JSON.parse(out!) as Array<{ endpoint: string; health: boolean }>;
    expect(health.filter((e) => e.health).map((e) => e.endpoint).sort()).toEqual(eps.split(',').sort());
    expect(members!.trim().split('\n').map((l) => l.split(', ')[2]).sort()).toEqual(lab.controlPlane.map((c) => c.name).sort());
  });

  it('each apiserver serves its node\'s apiserver.crt, which expires within 30 days like the kubeconfigs\' client certificates', async () => {
    await Promise.all(lab.controlPlane.map(async (h) => {
      const [served, file, crt, admin, caCrt] = (await sh(h.address, [
        `echo | openssl s_client -connect ${h.address}:6443 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
        'openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -fingerprint -sha256',
        'cat /etc/kubernetes/pki/apiserver.crt', 'cat /etc/kubernetes/admin.conf', 'cat /etc/kubernetes/pki/ca.crt',
      ].join('; echo @@@@; '))).split('@@@@\n');
      expect(served!.trim()).toMatch(/^sha256 Fingerprint=/i);
      expect(served).toBe(file);
      const leaf = new X509Certificate(crt!);
      expect(leaf.subject).toBe('CN=kube-apiserver');
      expect(leaf.subjectAltName).toContain(`IP Address:${h.address}`);
      expect(Date.parse(leaf.validTo) - Date.now()).toBeLessThan(30 * DAY);
      expect(Date.parse(new X509Certificate(kubeconfigCreds(admin!).cert).validTo) - Date.now()).toBeLessThan(30 * DAY);
      expect(Date.parse(new X509Certificate(caCrt!).validTo) - Date.now()).toBeGreaterThan(9 * 365 * DAY);
    }));
  });

  it('/readyz answers 200 to admin.conf\'s client certificate; no certificate gets 401, one of another CA fails the handshake', async () => {
    const h = lab.controlPlane[1]!;
    const pki = '/etc/kubernetes/pki/etcd';
    const [admin, cert, key] = (await sh(h.address, `cat /etc/kubernetes/admin.conf; echo @@@@; cat ${pki}/healthcheck-client.crt; echo @@@@; cat ${pki}/healthcheck-client.key`)).split('@@@@\n');
    const creds = kubeconfigCreds(admin!);
    expect(await get(h.address, '/readyz', creds)).toEqual({ status: 200, body: 'ok' });
    expect(await get(h.address, '/readyz', { ca: creds.ca })).toMatchObject({ status: 401 });
    const foreign = { ca: creds.ca, cert: cert!, key: key! };
    expect(await get(h.address, '/readyz', foreign)).toHaveProperty('error');
  });

  it('crictl shows the four static pods running on every control-plane node and none on the worker', async () => {
    await Promise.all(lab.controlPlane.map(async (h) => {
      const cs = await crictlPs(h.address);
      expect(cs.map((c) => c.metadata.name).sort(), h.name).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
      expect(cs.every((c) => c.state === 'CONTAINER_RUNNING' && /^[0-9a-f]{64}$/.test(c.id))).toBe(true);
    }));
    expect(await crictlPs(lab.workers[0]!.address, '-a')).toEqual([]);
  });

  it('moving a manifest out stops its container within about a second; moving it back starts a new container id, which reads its kubeconfig anew', async () => {
    const h = lab.controlPlane[2]!;
    const [before] = (await sh(h.address, 'crictl ps --name "^kube-scheduler$" -q')).trim().split('\n');
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    // One restart cycle, on the host in one command (the timings are the kubelet stand-in's): out, gone, back, a new id.
    const cycle = [
      'mkdir -p /etc/kubernetes/certroll-parked',
      'mv /etc/kubernetes/manifests/kube-scheduler.yaml /etc/kubernetes/certroll-parked/',
      't0=$(date +%s%N); while [ -n "$(crictl ps --name "^kube-scheduler$" -q)" ]; do sleep 0.05; done; t1=$(date +%s%N)',
      'echo gone_ms=$(( (t1 - t0) / 1000000 ))',
      'mv /etc/kubernetes/certroll-parked/kube-scheduler.yaml /etc/kubernetes/manifests/',
      'while [ -z "$(crictl ps --name "^kube-scheduler$" -q)" ]; do sleep 0.05; done',
      'echo new=$(crictl ps --name "^kube-scheduler$" -q)',
    ].join('\n');
    // The restarted scheduler gets a kubeconfig whose client certificate is not of the cluster CA (etcd's healthcheck
    // client): its /healthz fails, naming the apiserver's refusal. With the right one back and another restart it passes.
    const conf = '/etc/kubernetes/scheduler.conf';
    const out = await sh(h.address, [
      'set -e', `cp -p ${conf} /tmp/scheduler.conf.good`,
      `c=$(base64 -w0 /etc/kubernetes/pki/etcd/healthcheck-client.crt); k=$(base64 -w0 /etc/kubernetes/pki/etcd/healthcheck-client.key)`,
      `sed -i "s|client-certificate-data: .*|client-certificate-data: $c|; s|client-key-data: .*|client-key-data: $k|" ${conf}`,
      cycle,
    ].join('\n'));
    const gone = Number(/gone_ms=(\d+)/.exec(out)![1]);
    const after = /new=([0-9a-f]+)/.exec(out)![1];
    expect(gone).toBeLessThan(1500);
    expect(after).toMatch(/^[0-9a-f]{64}$/);
    expect(after).not.toBe(before);
    const healthz = async (want: (r: { status: number; body: string }) => boolean) => {
      const deadline = Date.now() + 10_000;
      let r = { status: 0, body: '' };
      while (Date.now() < deadline) {
        const got = await get(h.address, '/healthz', { rejectUnauthorized: false }, 10259);
        r = 'status' in got ? got : { status: 0, body: got.error };
        if (want(r)) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      return r;
    };
    const bad = await healthz((r) => /UNKNOWN_CA|unknown ca/i.test(r.body));
    expect(bad.status).toBe(500);
    expect(bad.body).toMatch(/^\[-\]apiserver failed: https:\/\/.*:6443: .*(UNKNOWN_CA|unknown ca)/im);
    await sh(h.address, `set -e\nmv /tmp/scheduler.conf.good ${conf}\n${cycle}`);
    expect(await healthz((r) => r.status === 200)).toEqual({ status: 200, body: 'ok' });
  });
});
