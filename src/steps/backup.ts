// Step `backup`: copy the cert dir to <certDir>-bak-<run-id> on every host, never over an existing one, and verify it by checksum.
import { BACKUP_META, BACKUP_SUMS, backupDirOf, partialBackupOf } from '../host-paths.js';
import { HostError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { BackupStep } from '../playbook/types.js';
import type { Action } from '../plan/types.js';
import type { StepModule } from './types.js';
import { inspectBackup } from './restore.js';
import { change } from './shared.js';


export const backup: StepModule<BackupStep> = {
  type: 'backup',
  needs: ['preflight'],
  changesLiveState: false,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf(spec.targets);
    const actions: Action[] = [];
    for (const name of hosts) {
      const f = ctx.hostFacts(name);
      const from = ctx.host(name).vars.certDir;
      const to = backupDirOf(from, ctx.runId);
      const exists = Boolean(f?.backups.includes(to));
      if (exists && !ctx.resume) ctx.warn({ level: 'block', code: 'backup-exists', host: name, message: `${name}: ${to} already exists; certroll never overwrites a backup` });
      actions.push({ kind: 'backup', host: name, from, to, files: f?.certDir.files.length ?? 0, kib: f?.disk.certDirKiB ?? 0, ...(exists ? { existing: true } : {}) });
    }
    return { hosts, actions, notes: [] };
  },
  apply(step, _spec, ctx) {
    const items = step.actions
      .filter((a): a is Extract<Action, { kind: 'backup' }> => a.kind === 'backup')
      .map((a) => ({
        title: `${a.host}: ${a.from} → ${a.to}`,
        host: a.host,
        run: async (report: (m: string) => void) => {
          if (a.existing) {
            const b = await inspectBackup(ctx.remote(a.host), a.to);
            if (!b.verified) throw new HostError(a.host, 'command', `${a.host}: the existing backup ${a.to} does not verify: ${b.problem}`, 'inspect it by hand; certroll will not overwrite it');
            return report(`existing backup verified (${b.meta!.files.length} files)`);
          }
          const f = ctx.facts.hosts[a.host];
          if (!f) throw new Error(`no facts for ${a.host}`);
          const sums = f.certDir.files.map((x) => `${x.sha256}  ./${x.path}\n`).join('');
          const meta = JSON.stringify({
            runId: ctx.runId,
            createdAt: new Date().toISOString(),
            source: a.from,
            dir: { mode: f.certDir.mode, uid: f.certDir.uid, gid: f.certDir.gid },
            files: f.certDir.files.map(({ path, size, mode, uid, gid, sha256 }) => ({ path, size, mode, uid, gid, sha256 })),
          });
          // Written into <to>.partial (its metadata first), verified there, then renamed to <to>: a backup under its final
          // name is always whole. A .partial of this very run (left by a crash) is removed and written again; one that
          // names another run is never touched. The final name is never overwritten (the `cp -r` trap of the manual procedure).
          const partial = partialBackupOf(a.to);
          const script = sh`set -e
if [ -e ${a.to} ]; then echo "${a.to} already exists" >&2; exit 5; fi
if [ -e ${partial} ]; then
  if [ -f ${partial}/${BACKUP_META} ] && ! grep -qF -- ${ctx.runId} ${partial}/${BACKUP_META}; then echo "${partial} belongs to another run" >&2; exit 6; fi
  rm -rf -- ${partial}
  echo redone
fi
mkdir -m 700 -- ${partial}
printf '%s\n' ${meta} > ${partial}/${BACKUP_META}
cp -a -- ${a.from}/. ${partial}/
cat > ${partial}/${BACKUP_SUMS}
chmod 600 ${partial}/${BACKUP_SUMS} ${partial}/${BACKUP_META}
cd ${partial}
sha256sum --quiet --strict -c ${BACKUP_SUMS}
n=$(find . -type f ! -path ./${BACKUP_SUMS} ! -path ./${BACKUP_META} | wc -l)
[ "$n" -eq ${String(f.certDir.files.length)} ] || { echo "backup holds $n files, expected ${String(f.certDir.files.length)}" >&2; exit 3; }
cd /
mv -T -- ${partial} ${a.to}
echo verified`;
          const r = await change(ctx, a.host, 'backup', `${a.from} → ${a.to}`, () => ctx.remote(a.host).sh(script, { stdin: sums, allowFailure: true, timeoutMs: 300_000 }));
          if (r.exitCode !== 0 || !r.stdout.includes('verified')) {
            throw new HostError(a.host, 'command', `${a.host}: backup ${a.to} failed or did not verify: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${r.exitCode}`}`, `no certificate has been changed on any host; fix the cause and run again (a partial ${partial} of this run is redone by --resume)`);
          }
          report(`${f.certDir.files.length} files copied and verified by sha256${r.stdout.includes('redone') ? ` (a partial backup left by a crash was removed and written again)` : ''}`);
        },
      }));
    return { items, concurrent: true };
  },
};
