#!/usr/bin/env node
// `npm test`: the unit tests (test/unit, no lab), the end-to-end tests on the TOS lab (test/e2e) and those on the kubeadm lab
// (test/e2e-kubeadm, its own lab on its own addresses) run as vitest processes in three lanes side by side:
//
//   [unit]  test/unit, at a lower priority (it is the CPU-bound lane; the others mostly wait on their labs: pauses,
//           etcd restarts);
//   [tos-a] a share of test/e2e on the TOS lab (CERTROLL_LAB_DIR or /var/lib/certroll-lab, subnet 127.20);
//   [kadm]  test/e2e-kubeadm, then [tos-b]: the rest of test/e2e on a second TOS lab (/var/lib/certroll-lab-b, subnet
//           127.22, brought up by its first test like the first one), so the TOS files run on two labs at once.
//
// Within a lane the files run one at a time (vitest.config.ts: a lab is one cluster). The TOS files are shared out by
// their measured duration (DURATIONS, seconds, from a CI run; a new file counts as NEW_FILE_S) so that both lanes end
// together: each file goes to the lane that is free first, the longest first. Each output line is prefixed with its
// lane; the exit code is non-zero when any lane fails. (Directories are given with a trailing slash: vitest filters by
// substring, and "test/e2e" would also pick the files of test/e2e-kubeadm.)
// With arguments (`npm test -- test/unit/pki`), one plain `vitest run ARGS…` instead.
// CERTROLL_TEST_TOS_LABS=1: the old two-lane layout (every TOS file on the one lab, beside the unit then the kubeadm files).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Seconds each TOS e2e file took in the fresh-clone CI run of 2026-12-03 02:46 UTC (2 cores, three lanes); manager.test.ts
 * with the rollback-on-a-terminal test added after it (+26 s). */
const DURATIONS = {
  'faults.test.ts': 101, 'signals.test.ts': 99, 'status.test.ts': 74, 'rollback.test.ts': 59, 'manager.test.ts': 46,
  'bastion-lab.test.ts': 29, 'backups.test.ts': 27, 'lab.test.ts': 22, 'dead-end.test.ts': 19, 'run.test.ts': 18,
  'pki-mixed-etcd.test.ts': 15, 'foreign-backup.test.ts': 15, 'crash.test.ts': 15, 'check.test.ts': 5, 'check-secrets.test.ts': 5,
  'ssh-connect.test.ts': 4, 'ssh-bastion.test.ts': 3, 'ssh-files.test.ts': 2, 'ssh-exec.test.ts': 2, 'check-kubeadm-files.test.ts': 1,
  'monitoring-doc.test.ts': 1,
};
const NEW_FILE_S = 30;
/** What the second TOS lane waits for before its first file: the kubeadm files (~160 s in that run, + ~100 s of the crash
 * test's three ways added after it) and bringing up its lab (~30 s). */
const KADM_LANE_HEAD_S = 290;
/** The second TOS lane's lab, and its throwaway sshds' address (test/e2e/ssh-*.test.ts; the first lane's: 127.0.66.1). */
const SECOND_LAB = { CERTROLL_LAB_DIR: '/var/lib/certroll-lab-b', CERTROLL_LAB_SUBNET: '127.22', CERTROLL_TEST_SSHD_ADDRESS: '127.0.67.1' };

const vitest = (args, prefix, { niceness = 0, env } = {}) =>
  new Promise((resolve) => {
    const argv = [process.execPath, 'node_modules/vitest/vitest.mjs', 'run', ...args];
    if (niceness) argv.unshift('nice', '-n', String(niceness));
    const child = spawn(argv[0], argv.slice(1), { stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: { ...process.env, ...env } });
    if (prefix) {
      for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
        createInterface({ input: from }).on('line', (line) => to.write(`${prefix} ${line}\n`));
      }
    }
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });

/** The TOS e2e files shared out over `lanes` lanes that start after `head` seconds each (longest first, to the lane free first). */
export function shareOut(files, head) {
  const load = [...head];
  const lanes = head.map(() => []);
  const weight = (f) => DURATIONS[f] ?? NEW_FILE_S;
  for (const f of [...files].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))) {
    const i = load.indexOf(Math.min(...load));
    lanes[i].push(f);
    load[i] += weight(f);
  }
  return lanes;
}

const args = process.argv.slice(2);
if (args.length) process.exit(await vitest(args));
const started = Date.now();
const tosFiles = readdirSync('test/e2e').filter((f) => f.endsWith('.test.ts'));
const twoLabs = process.env.CERTROLL_TEST_TOS_LABS !== '1';
const [filesA, filesB] = twoLabs ? shareOut(tosFiles, [0, KADM_LANE_HEAD_S]) : [tosFiles, []];
const paths = (fs) => fs.map((f) => `test/e2e/${f}`);
const verdicts = {};
const lane = async (name, files, prefix, opts) => {
  verdicts[name] = files.length ? await vitest(files, prefix, opts) : 0;
};
if (twoLabs) {
  process.stdout.write(`npm test: three lanes: unit | tos-a: ${filesA.length} files on the TOS lab | kadm, then tos-b: ${filesB.length} files on a second TOS lab (${SECOND_LAB.CERTROLL_LAB_DIR})\n`);
  await Promise.all([
    lane('unit', ['test/unit/'], '[unit] ', { niceness: 10 }),
    lane('tos-a', paths(filesA), '[tos-a]'),
    (async () => {
      await lane('kadm', ['test/e2e-kubeadm/'], '[kadm] ');
      await lane('tos-b', paths(filesB), '[tos-b]', { env: SECOND_LAB });
    })(),
  ]);
} else {
  process.stdout.write(`npm test: two lanes: unit, then kadm | tos-a: all ${filesA.length} files on the TOS lab\n`);
  await Promise.all([
    (async () => {
      await lane('unit', ['test/unit/'], '[unit] ', { niceness: 10 });
      await lane('kadm', ['test/e2e-kubeadm/'], '[kadm] ');
    })(),
    lane('tos-a', paths(filesA), '[tos-a]'),
  ]);
}
const verdict = (code) => (code === 0 ? 'passed' : `FAILED (exit ${code})`);
process.stdout.write(`\nnpm test: ${Object.entries(verdicts).map(([k, c]) => `${k} ${verdict(c)}`).join(', ')}, ${((Date.now() - started) / 1000).toFixed(0)} s wall\n`);
process.exit(Object.values(verdicts).find((c) => c !== 0) ?? 0);
