// A closed terminal or pipe must not crash certroll: the built CLI writing to closed stdout/stderr still ends normally.
import { afterAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const home = mkdtempSync(join(tmpdir(), 'certroll-closed-out-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

it('`runs` with stdout and stderr closed before it writes exits 0, not with an EPIPE crash', async () => {
  // Enough runs that the listing is written after the reader has gone.
  for (let i = 0; i < 400; i++) {
    const id = `20261202T09${String(Math.floor(i / 60) % 60).padStart(2, '0')}${String(i % 60).padStart(2, '0')}Z-${i.toString(16).padStart(6, '0')}`;
    mkdirSync(join(home, 'runs', id), { recursive: true });
    writeFileSync(join(home, 'runs', id, 'run.json'), JSON.stringify({ runId: id, state: 'succeeded', inventory: 'i', playbook: 'p'.repeat(200), startedAt: 'x' }));
  }
  const child = spawn('node', ['dist/cli/bin.js', 'runs'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', CERTROLL_HOME: home } });
  child.stdout.destroy();
  child.stderr.destroy();
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  expect(signal).toBeNull();
  expect(code).toBe(0);
});
