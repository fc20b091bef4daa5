// A bug in certroll's own code (a TypeError, RangeError or ReferenceError while working on a host) is not "host
// unreachable": the fleet layer throws it again, after every host's work has ended, and the CLI ends with exit 70.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { execAll, isBug, toHostError } from '../../../src/ssh/fleet.js';
import { parseStatOutput } from '../../../src/ssh/exec-transfer.js';
import { LocalRemote } from '../../support/local-remote.js';

// `certroll backups` below connects to "hosts" that are this machine (LocalRemote), and its listing parser has a bug
// on host b: a parser reading past the end of its input.
vi.mock('../../../src/ssh/connection.js', async () => {
  const { LocalRemote: Local } = await import('../../support/local-remote.js');
  return { connect: async (h: { name: string }) => Object.assign(new Local(h.name), { notes: [] }) };
});
vi.mock('../../../src/rollback/backups.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/rollback/backups.js')>();
  return {
    ...real,
    listHostBackups: async (r: LocalRemote, host: { name: string }) => {
      const out = (await r.sh('echo one')).stdout;
      if (host.name === 'b') {
        const fields = out.trim().split(' ');
        return { host: host.name, certDir: '/nowhere', backups: [{ dir: fields[3]!.trim() }] }; // fields[3] is undefined: TypeError
      }
      return { host: host.name, certDir: '/nowhere', backups: [] };
    },
  };
});

/** A real parse of real output: `wc -c` prints a number; the bug reads a field that is not there. */
async function buggyParse(r: LocalRemote): Promise<number> {
  const out = (await r.sh('printf abc | wc -c')).stdout;
  const parts = out.trim().split(/\s+/);
  return parts[1]!.length; // parts has one element: TypeError (cannot read properties of undefined)
}

describe('toHostError and execAll: a bug is not a host error', () => {
  it('isBug: TypeError, RangeError, ReferenceError are bugs; Error and HostError are not', () => {
    expect(isBug(new TypeError('x'))).toBe(true);
    expect(isBug(new RangeError('Invalid time value'))).toBe(true);
    expect(isBug(new ReferenceError('y is not defined'))).toBe(true);
    expect(isBug(new Error('unexpected output'))).toBe(false);
    expect(isBug(new HostError('h', 'command', 'h: failed'))).toBe(false);
  });

  it('toHostError throws a bug again as it is; anything else becomes that host\'s HostError', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'length')");
    expect(() => toHostError('h1', bug)).toThrow(bug);
    const he = toHostError('h1', new Error('unexpected stat output'));
    expect(he).toBeInstanceOf(HostError);
    expect(he.shortMessage).toBe('h1: unexpected stat output');
  });

  it('a parser\'s TypeError on one host rejects execAll with that TypeError once every host has finished', async () => {
    const hosts = [new LocalRemote('a'), new LocalRemote('b'), new LocalRemote('c')];
    const finished: string[] = [];
    const run = execAll(hosts, async (r) => {
      if (r.host === 'b') return buggyParse(r);
      await new Promise((res) => setTimeout(res, 150));
      finished.push(r.host);
      return 1;
    }, 3);
    await expect(run).rejects.toBeInstanceOf(TypeError);
    expect(finished.sort()).toEqual(['a', 'c']);
  });

  it('what a host said that certroll cannot read (a plain Error from a parser) stays that host\'s failure', async () => {
    const outcomes = await execAll([new LocalRemote('a'), new LocalRemote('b')], async (r) => {
      const text = r.host === 'b' ? 'stat: weird output' : (await r.sh(`stat -L -c '%s %f %u %g %Y' -- /`)).stdout;
      return parseStatOutput('/', text)!.isDirectory;
    });
    expect(outcomes[0]).toEqual({ host: 'a', ok: true, value: true });
    expect(outcomes[1]!.ok).toBe(false);
    expect(!outcomes[1]!.ok && outcomes[1]!.error).toBeInstanceOf(HostError);
    expect(!outcomes[1]!.ok && outcomes[1]!.error.shortMessage).toMatch(/^b: unexpected stat output for \//);
  });
});

describe('the CLI: a bug while reading hosts ends as an internal error, exit 70', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certroll-bug-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inv = join(dir, 'inv.yaml');
  writeFileSync(inv, ['ssh:', '  config: none', 'hosts:', '  a: { address: 127.0.0.1 }', '  b: { address: 127.0.0.2 }', 'groups:', '  master: [a, b]', '  etcd: [a, b]', ''].join('\n'));

  it('certroll backups: exit 70, "internal error", not "b: not listed" with exit 2', async () => {
    const { main } = await import('../../../src/cli/main.js');
    const err: string[] = [];
    const out: string[] = [];
    const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const home = process.env.CERTROLL_HOME;
    process.env.CERTROLL_HOME = dir;
    try {
      const code = await main(['backups', '-i', inv, '--color=false']);
      expect(code, err.join('')).toBe(70);
    } finally {
      spyErr.mockRestore();
      spyOut.mockRestore();
      if (home === undefined) delete process.env.CERTROLL_HOME;
      else process.env.CERTROLL_HOME = home;
    }
    expect(err.join('')).toContain('internal error: Cannot read properties of undefined');
    expect(err.join('')).toContain('This is a bug in certroll');
    expect(out.join('')).not.toContain('not listed');
  });
});
