// docs/monitoring.md, run as written: its systemd ExecStart= line and its cron line (taken from the file, so the doc
// cannot drift from what is tested) write certroll.prom on the lab atomically (watched while they run) with valid
// x509-certificate-exporter metrics; its alert rules pass `promtool check rules` (when promtool is installed).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expositionProblems, promtoolCheck } from '../support/exposition.js';
import { ensureLab, type LabInfo } from './lab-helpers.js';

const doc = readFileSync('docs/monitoring.md', 'utf8');
const work = mkdtempSync(join(tmpdir(), 'certroll-monitoring-'));
const bin = join(work, 'certroll');
const DOC_CERTROLL = '/usr/local/bin/certroll';
const DOC_INVENTORY = '/etc/certroll/inventory.yaml';
const DOC_TEXTFILE_DIR = '/var/lib/prometheus/node-exporter';

/** The fenced blocks of the doc with their info string. */
function blocks(lang: string): string[] {
  return [...doc.matchAll(/```(\w+)\n([\s\S]*?)```/g)].filter((m) => m[1] === lang).map((m) => m[2]!);
}

let lab: LabInfo;
let core: string[];

beforeAll(async () => {
  lab = await ensureLab();
  core = lab.hosts.filter((h) => !h.roles.includes('extra')).map((h) => h.name);
  // `certroll` as the doc calls it: the built CLI.
  writeFileSync(bin, `#!/bin/sh\nexec node ${JSON.stringify(resolve('dist/cli/bin.js'))} "$@"\n`);
  chmodSync(bin, 0o755);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The doc's paths replaced by the test's: the built CLI, the lab's inventory, a fresh textfile directory. */
function localise(text: string, dir: string): string {
  return text.split(DOC_CERTROLL).join(bin).split(DOC_INVENTORY).join(lab.inventory).split(DOC_TEXTFILE_DIR).join(dir);
}

interface Watched {
  code: number;
  events: Array<[string, string]>;
  /** Every distinct content certroll.prom had while polled. */
  seen: Set<string>;
  stderr: string;
}

/** Runs `sh -c script` while watching dir (inotify) and reading dir/certroll.prom as fast as possible. */
async function runWatched(script: string, dir: string, env: Record<string, string>): Promise<Watched> {
  const target = join(dir, 'certroll.prom');
  const events: Array<[string, string]> = [];
  const seen = new Set<string>();
  const watcher = watch(dir, (type, name) => events.push([type, String(name)]));
  let done = false;
  const poll = (async () => {
    while (!done) {
      try {
        seen.add(readFileSync(target, 'utf8'));
      } catch {
        seen.add('<absent>');
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const child = spawn('sh', ['-c', script], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  done = true;
  await poll;
  await new Promise((r) => setTimeout(r, 50));
  watcher.close();
  return { code, events, seen, stderr };
}

function expectAtomicValid(w: Watched, dir: string, old: string): void {
  // Every read of certroll.prom gave the old file or the whole new one, never a part.
  const contents = [...w.seen].filter((c) => c !== old);
  expect(contents).toHaveLength(1);
  const text = contents[0]!;
  expect(expositionProblems(text)).toEqual([]);
  const promtool = promtoolCheck(text);
  if (promtool) expect(promtool).toEqual({ code: 0, output: '' });
  for (const h of core) {
    expect(text).toMatch(new RegExp(`^x509_cert_not_after\\{host="${h}",filename="etcd.pem",filepath="${lab.certDir}/etcd.pem",.*\\} \\d+$`, 'm'));
    expect(text).toContain(`certroll_check_host_up{host="${h}"} 1`);
  }
  // Written to a temporary file in the same directory, whose name the textfile collector ignores, then renamed over
  // (before that, --output's check makes and removes an empty probe file there: not a *.prom either).
  const others = [...new Set(w.events.map(([, n]) => n).filter((n) => n !== 'certroll.prom'))];
  expect(others.filter((n) => /^\.certroll\.prom\.certroll-tmp-[0-9a-f]+$/.test(n))).toHaveLength(1);
  for (const n of others) expect(n).toMatch(/^\.certroll(\.prom\.certroll-tmp|-probe)-[0-9a-f]+$/);
  expect(w.events).toContainEqual(['rename', 'certroll.prom']);
  // The target itself is never written in place (that would be a 'change' event on it).
  expect(w.events.filter(([type, n]) => type === 'change' && n === 'certroll.prom')).toEqual([]);
  expect(readdirSync(dir)).toEqual(['certroll.prom']);
}

describe('docs/monitoring.md, run as written, on the lab', () => {
  it('the systemd service: ExecStart writes certroll.prom atomically, with valid metrics, and exits with a SuccessExitStatus', async () => {
    const unit = blocks('ini').find((b) => b.includes('ExecStart='))!;
    expect(unit).toBeDefined();
    const dir = mkdtempSync(join(work, 'systemd-'));
    const lines = localise(unit, dir).split('\n');
    const env = Object.fromEntries(lines.filter((l) => l.startsWith('Environment=')).map((l) => l.slice('Environment='.length).split(/=(.*)/s).slice(0, 2) as [string, string]));
    const execStart = lines.find((l) => l.startsWith('ExecStart='))!.slice('ExecStart='.length);
    const ok = ['0', ...(lines.find((l) => l.startsWith('SuccessExitStatus='))?.slice('SuccessExitStatus='.length).split(/\s+/) ?? [])];
    expect(env).toEqual({ CERTROLL_INVENTORY: lab.inventory, TEXTFILE_DIR: dir });
    const old = '# TYPE certroll_check_timestamp_seconds gauge\ncertroll_check_timestamp_seconds 1\n';
    writeFileSync(join(dir, 'certroll.prom'), old);
    const w = await runWatched(execStart, dir, env);
    expect(ok, w.stderr).toContain(String(w.code));
    expectAtomicValid(w, dir, old);
  });

  it('the cron line writes certroll.prom atomically too, from an empty directory', async () => {
    const cron = blocks('cron')[0]!.trim().split('\n').find((l) => !l.startsWith('#'))!;
    const fields = cron.split(/\s+/);
    expect(fields.slice(0, 6)).toEqual(['*/30', '*', '*', '*', '*', 'root']);
    expect(cron).not.toContain('%'); // cron would turn it into a newline
    const dir = mkdtempSync(join(work, 'cron-'));
    const command = localise(cron.split(/\s+/).slice(6).join(' '), dir);
    const w = await runWatched(command, dir, {});
    expect([0, 1, 2], w.stderr).toContain(w.code);
    expectAtomicValid(w, dir, '<absent>');
  });
});

describe('docs/monitoring.md alert rules', () => {
  const rulesFile = blocks('yaml').find((b) => b.startsWith('groups:'))!;
  const rules = (loadYaml(rulesFile) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);

  it('alert on the x509-certificate-exporter metric names certroll writes', () => {
    expect(rules.map((r) => r.alert)).toEqual(['CertificateExpiresSoon', 'CertificateExpiresVerySoon', 'CertificateExpired', 'CertificateReadErrors', 'CertificateMetricsStale']);
    for (const name of ['x509_cert_not_after', 'x509_cert_expired', 'x509_read_errors', 'certroll_check_timestamp_seconds']) {
      expect(rules.some((r) => r.expr.includes(name))).toBe(true);
    }
    const operator = loadYaml(blocks('yaml').find((b) => b.includes('kind: PrometheusRule'))!) as { spec: { groups: Array<{ rules: Array<{ expr: string }> }> } };
    expect(operator.spec.groups[0]!.rules[0]!.expr).toBe(rules[0]!.expr);
  });

  it('pass promtool check rules (when promtool is installed)', (ctx) => {
    const file = join(work, 'certificates.rules.yml');
    writeFileSync(file, rulesFile);
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    if (r.error) ctx.skip();
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS: 5 rules found');
    expect(r.status).toBe(0);
    // and promtool does reject a broken rule
    writeFileSync(file, rulesFile.replace('x509_cert_expired == 1', 'x509_cert_expired == =1'));
    expect(spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' }).status).not.toBe(0);
    expect(existsSync(file)).toBe(true);
  });
});
