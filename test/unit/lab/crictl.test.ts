// The kubeadm lab's crictl stand-in reads the kubelet stand-in's containers.json (found by hostname under the hosts dir) and
// answers in crictl's formats: ps (table, -q, --name REGEX, --state, -a, -o json), inspect by id prefix, a clear error otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { programText } from '../../../lab/src/assets.js';

const dir = mkdtempSync(join(tmpdir(), 'certroll-crictl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hostsDir = join(dir, 'hosts');
mkdirSync(join(hostsDir, hostname(), 'run'), { recursive: true });
const crictl = join(dir, 'crictl');
writeFileSync(crictl, programText('crictl.py', hostsDir), { mode: 0o755 });

const id = (c: string) => c.repeat(64);
const now = Date.now() / 1000;
writeFileSync(join(hostsDir, hostname(), 'run', 'containers.json'), JSON.stringify({
  updated: now,
  containers: [
    // process.pid: a live process stands for a running container.
    { id: id('a'), name: 'etcd', image: 'registry.k8s.io/etcd:3.5.12-0', command: ['etcd'], created: now - 30, status: 'running', pid: process.pid, restarts: 0, podId: id('1'), podName: 'etcd-n1' },
    { id: id('b'), name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.29.6', command: ['kube-apiserver'], created: now - 20, status: 'running', pid: process.pid, restarts: 2, podId: id('2'), podName: 'kube-apiserver-n1' },
    { id: id('c'), name: 'kube-scheduler', image: 'registry.k8s.io/kube-scheduler:v1.29.6', command: ['kube-scheduler'], created: now - 10, status: 'exited', exitCode: 1, finished: now - 5, restarts: 0, podId: id('3'), podName: 'kube-scheduler-n1' },
  ],
}));

const run = (...args: string[]) => execFileSync('/usr/bin/python3', [crictl, ...args], { encoding: 'utf8' });

describe('crictl stand-in', () => {
  it('ps: running containers, newest first, in crictl\'s table', () => {
    const lines = run('ps').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CONTAINER\s+IMAGE\s+CREATED\s+STATE\s+NAME\s+ATTEMPT\s+POD ID\s+POD$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ['bbbbbbbbbbbbb', expect.stringMatching(/^[0-9a-f]{13}$/), expect.stringMatching(/^(2\d|[3-5]\d) seconds ago$/), 'Running', 'kube-apiserver', '2', '2222222222222', 'kube-apiserver-n1'],
      ['aaaaaaaaaaaaa', expect.stringMatching(/^[0-9a-f]{13}$/), expect.stringMatching(/^([3-5]\d) seconds ago$/), 'Running', 'etcd', '0', '1111111111111', 'etcd-n1'],
    ]);
  });

  it('ps -q, --name REGEX, -a, --state exited', () => {
    expect(run('ps', '-q')).toBe(`${id('b')}\n${id('a')}\n`);
    expect(run('ps', '--name', '^etcd$', '-q')).toBe(`${id('a')}\n`);
    expect(run('ps', '--name', 'kube-', '-q')).toBe(`${id('b')}\n`);
    expect(run('ps', '-a', '--name', 'kube-', '-q')).toBe(`${id('c')}\n${id('b')}\n`);
    expect(run('ps', '--state', 'exited', '-q')).toBe(`${id('c')}\n`);
    expect(run('ps', '-aq')).toBe(`${id('c')}\n${id('b')}\n${id('a')}\n`);
  });

  it('ps -o json: ids, names, states, creation times in nanoseconds, pod labels', () => {
    const out = JSON.parse(run('ps', '-a', '-o', 'json')) as { containers: Array<Record<string, unknown>> };
    expect(out.containers.map((c) => [c.id, (c.metadata as { name: string }).name, c.state])).toEqual([
      [id('c'), 'kube-scheduler', 'CONTAINER_EXITED'],
      [id('b'), 'kube-apiserver', 'CONTAINER_RUNNING'],
      [id('a'), 'etcd', 'CONTAINER_RUNNING'],
    ]);
    expect(Number(out.containers[1]!.createdAt) / 1e9).toBeCloseTo(now - 20, 0);
    expect(out.containers[1]!.labels).toMatchObject({ 'io.kubernetes.container.name': 'kube-apiserver', 'io.kubernetes.pod.name': 'kube-apiserver-n1', 'io.kubernetes.pod.namespace': 'kube-system' });
  });

  it('inspect by id prefix: status and pid; an unknown id is an error naming it', () => {
    const doc = JSON.parse(run('inspect', 'bbbb')) as { status: Record<string, unknown>; info: { pid: number } };
    expect(doc.status).toMatchObject({ id: id('b'), state: 'CONTAINER_RUNNING', exitCode: 0, metadata: { name: 'kube-apiserver', attempt: 2 } });
    expect(doc.info.pid).toBe(process.pid);
    const exited = JSON.parse(run('inspect', id('c'))) as { status: Record<string, unknown> };
    expect(exited.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 1, reason: 'Error' });
    const bad = spawnSync('/usr/bin/python3', [crictl, 'inspect', 'ffff'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('"ffff"');
    const unsupported = spawnSync('/usr/bin/python3', [crictl, 'rmi', 'x'], { encoding: 'utf8' });
    expect(unsupported.status).toBe(1);
    expect(unsupported.stderr).toContain('unsupported command "rmi"');
  });
});
