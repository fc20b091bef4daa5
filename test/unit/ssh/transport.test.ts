// Transport behaviour against ssh2's in-process Server with scripted replies: dropped connections, hung commands, refused SFTP, host-key checking.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, utils, type Connection } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultClusterVars, defaultSshSettings, type Host } from '../../../src/inventory/types.js';
import { connect } from '../../../src/ssh/connection.js';
import type { SshEvent } from '../../../src/ssh/options.js';

const ADDRESS = process.env.CERTROLL_TEST_LOOPBACK ?? '127.0.0.1';

describe('transport against a scripted ssh2 server', () => {
  let server: Server;
  let port: number;
  let dir: string;
  let knownHosts: string;
  let clientKeyFile: string;
  const connections: Connection[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certroll-transport-'));
    const hostKey = utils.generateKeyPairSync('ed25519');
    const clientKey = utils.generateKeyPairSync('ed25519');
    clientKeyFile = join(dir, 'id');
    writeFileSync(clientKeyFile, clientKey.private, { mode: 0o600 });
    server = new Server({ hostKeys: [hostKey.private] }, (conn) => {
      connections.push(conn);
      conn.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
      conn.on('ready', () => {
        conn.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('sftp', (_accept, reject) => reject?.());
          session.on('exec', (accept, _reject, info) => {
            const stream = accept();
            if (info.command === 'drop') {
              stream.write('partial');
              setTimeout(() => (conn as unknown as { _sock: { destroy(): void } })._sock.destroy(), 50);
            } else if (info.command === 'hang' || info.command === "sh -c hang") {
              /* never answers */
            } else if (info.command.startsWith('cat')) {
              stream.on('data', (d: Buffer) => stream.write(d));
              stream.on('end', () => {
                stream.exit(0);
                stream.end();
              });
            } else {
              stream.write(`ran: ${info.command}\n`);
              stream.stderr.write('warn\n');
              stream.exit(7);
              stream.end();
            }
          });
        });
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, ADDRESS, () => r()));
    port = (server.address() as AddressInfo).port;
    knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `[${ADDRESS}]:${port} ${hostKey.public.trim()}\n`);
  });
  afterAll(async () => {
    for (const c of connections) c.end();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const host = (name: string, over: Partial<Host['ssh']> = {}): Host => ({
    name,
    address: ADDRESS,
    hostname: name,
    groups: [],
    ssh: { ...defaultSshSettings, port, identityFile: clientKeyFile, knownHostsFile: knownHosts, connectTimeout: 5, ...over },
    vars: defaultClusterVars,
    definedAt: { file: 'test' },
  });

  it('returns exit code and output in the one result shape', async () => {
    const r = await connect(host('scripted'));
    try {
      const res = await r.exec(['hello', 'a b'], { allowFailure: true });
      expect(res).toMatchObject({ host: 'scripted', command: "hello 'a b'", exitCode: 7, signal: null, stdout: "ran: hello 'a b'\n", stderr: 'warn\n' });
      expect(res.durationMs).toBeGreaterThanOrEqual(0);
      await expect(r.exec(['hello'])).rejects.toMatchObject({ kind: 'command', host: 'scripted', detail: 'warn' });
    } finally {
      await r.close();
    }
  });

  it('rejects a command with HostError kind closed when the connection drops mid-command, and every later call too', async () => {
    const events: SshEvent[] = [];
    const r = await connect(host('dropping'), { onEvent: (e) => events.push(e) });
    const err = await r.exec(['drop']).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'HostError', kind: 'closed', host: 'dropping' });
    expect(r.state).toBe('lost');
    expect(events.some((e) => e.type === 'connection-lost')).toBe(true);
    await expect(r.exec(['echo'])).rejects.toMatchObject({ kind: 'closed' });
    await r.close();
  });

  it('rejects every in-flight request when the connection drops', async () => {
    const r = await connect(host('many'));
    const hung = [r.exec(['hang']), r.exec(['hang']), r.sh('hang')].map((p) => p.catch((e: unknown) => e));
    await new Promise((res) => setTimeout(res, 100));
    await r.exec(['drop']).catch(() => undefined);
    for (const e of await Promise.all(hung)) expect(e).toMatchObject({ kind: 'closed', host: 'many' });
  });

  it('times out a hung command with HostError kind timeout', async () => {
    const r = await connect(host('hung'));
    try {
      await expect(r.exec(['hang'], { timeoutMs: 200 })).rejects.toMatchObject({ kind: 'timeout', host: 'hung' });
    } finally {
      await r.close();
    }
  });

  it('falls back to exec when SFTP is refused, with a note', async () => {
    const r = await connect(host('nosftp'));
    try {
      expect(await r.fileTransport()).toBe('exec');
      expect(r.notes[0]).toMatch(/no SFTP subsystem/);
      expect(r.counters).toEqual({ connections: 1, roundTrips: 1 });
    } finally {
      await r.close();
    }
  });

  it('always checks the host key: an empty known_hosts refuses the server', async () => {
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    await expect(connect(host('strict', { knownHostsFile: empty }))).rejects.toMatchObject({ kind: 'host-key', host: 'strict' });
  });
});
