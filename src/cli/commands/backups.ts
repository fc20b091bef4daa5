// `certroll backups`: every host's `<certDir>-bak-*` with run id, date, size and whether it verifies; `--prune --keep N` deletes older ones.
import { warnAboutInventory } from '../../inventory/warnings.js';
import type { Argv, CommandModule } from 'yargs';
import { createInterface } from 'node:readline/promises';
import { ExitCode, SafetyStop, UsageError } from '../../errors.js';
import { makeUi, setExitCode, sshPrompts, withFleetOptions, type GlobalOptions } from '../common.js';
import { renderTable } from '../../render/text.js';
import { numberOption } from '../flags.js';
import { loadInventory } from '../../inventory/load.js';
import { selectHosts } from '../../inventory/limit.js';
import { listRuns } from '../../journal/journal.js';
import { openFleet } from '../../ssh/fleet.js';
import { deleteBackup, listHostBackups, runStandings, selectPrune, type BackupEntry, type HostBackups, type PruneDecision } from '../../rollback/backups.js';
import { heads } from './heads.js';

interface BackupsArgs extends GlobalOptions {
  prune: boolean;
  keep?: number;
  yes: boolean;
  'dry-run': boolean;
}

const size = (kib: number) => (kib >= 1024 * 1024 ? `${(kib / 1024 / 1024).toFixed(1)} GiB` : kib >= 1024 ? `${(kib / 1024).toFixed(1)} MiB` : `${kib} KiB`);

export const backupsCommand: CommandModule<{}, BackupsArgs> = {
  ...heads.backups,
  builder: (y) =>
    withFleetOptions(y)
      .option('prune', { type: 'boolean', default: false, describe: 'Delete backups older than the newest --keep N on each host (never the newest, never one of an unfinished run)' })
      .option('keep', numberOption('keep', 'With --prune: how many of the newest backups to keep on each host'))
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation before deleting' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'With --prune: show what would be deleted; delete nothing' }) as unknown as Argv<BackupsArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    if (args.prune && (args.keep === undefined || !Number.isInteger(args.keep) || args.keep < 1))
      throw new UsageError('--prune needs --keep N with N ≥ 1 (the newest backup of each host is never deleted)');
    if (!args.prune && args.keep !== undefined) throw new UsageError('--keep only makes sense with --prune');
    const inventory = warnAboutInventory(await loadInventory(args.inventory));
    const hosts = selectHosts(inventory, args.limit);
    const standing = runStandings(await listRuns());
    const fleet = await openFleet(hosts, { forks: args.forks, acceptNewHostKeys: args['accept-new-host-keys'], ...sshPrompts() });
    try {
      const outcomes = await fleet.run((r) => listHostBackups(r, hosts.find((h) => h.name === r.host)!));
      const listed: HostBackups[] = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
      const failures = [...[...fleet.errors.values()].map((e) => ({ host: e.host, message: e.shortMessage })), ...outcomes.flatMap((o) => (o.ok ? [] : [{ host: o.host, message: o.error.shortMessage }]))];
      const entries = listed.flatMap((h) => h.backups);
      const decisions: PruneDecision[] = args.prune ? listed.flatMap((h) => selectPrune(h, args.keep!, standing)) : [];
      const decisionOf = (e: BackupEntry) => decisions.find((d) => d.entry === e);

      if (!args.json) {
        if (entries.length)
          ui.say(
            renderTable(entries, [
              { header: 'HOST', get: (e) => e.host },
              { header: 'BACKUP', get: (e) => e.dir },
              { header: 'RUN', get: (e) => e.runId },
              { header: 'CREATED', get: (e) => e.createdAt.replace(/\.\d+Z$/, 'Z') },
              { header: 'SIZE', get: (e) => size(e.sizeKiB), align: 'right' },
              { header: 'VERIFIED', get: (e) => (e.verified ? ui.p.green('yes') : e.certroll ? ui.p.red('NO') : ui.p.dim('-')) },
              { header: 'RUN STATE', get: (e) => standing(e.runId).detail },
              ...(args.prune ? [{ header: 'PRUNE', get: (e: BackupEntry) => { const d = decisionOf(e); return d ? (d.action === 'delete' ? ui.p.yellow(`delete: ${d.why}`) : `keep: ${d.why}`) : ''; } }] : []),
            ]),
          );
        else ui.say(`No backups on ${listed.length} host${listed.length === 1 ? '' : 's'}.`);
        for (const e of entries.filter((x) => x.certroll && !x.verified)) ui.say(ui.p.red(`  ${e.host}: ${e.dir}: ${e.problem}`));
        for (const f of failures) ui.say(ui.p.red(`  ${f.host}: not listed: ${f.message}`));
      }

      const toDelete = decisions.filter((d) => d.action === 'delete');
      const deleted: Array<{ host: string; dir: string }> = [];
      const notDeleted: Array<{ host: string; dir: string; why: string }> = [];
      if (args.prune && toDelete.length && !args['dry-run']) {
        await confirm(args, toDelete.length);
        const results = await fleet.run(async (r) => {
          const host = hosts.find((h) => h.name === r.host)!;
          for (const d of toDelete.filter((x) => x.entry.host === r.host)) {
            const res = await deleteBackup(r, host, d.entry);
            if (res.deleted) deleted.push({ host: r.host, dir: d.entry.dir });
            else notDeleted.push({ host: r.host, dir: d.entry.dir, why: res.why ?? 'unknown' });
          }
        });
        for (const o of results) if (!o.ok) failures.push({ host: o.host, message: o.error.shortMessage });
        if (!args.json) {
          ui.say(`Deleted ${deleted.length} backup${deleted.length === 1 ? '' : 's'}${deleted.length ? `: ${deleted.map((d) => `${d.host}:${d.dir}`).join(', ')}` : ''}.`);
          for (const n of notDeleted) ui.say(ui.p.yellow(`  ${n.host}: kept ${n.dir}: ${n.why}`));
        }
      } else if (args.prune && !args.json) ui.say(toDelete.length ? `--dry-run: would delete ${toDelete.length} backup${toDelete.length === 1 ? '' : 's'}; nothing was deleted.` : 'Nothing to prune.');

      if (args.json)
        ui.data({
          hosts: listed.map((h) => ({ host: h.host, certDir: h.certDir, lockedBy: h.lockedBy ?? null, backups: h.backups.map((b) => ({ ...b, runState: standing(b.runId).detail, ...(args.prune ? { prune: decisionOf(b) ? { action: decisionOf(b)!.action, why: decisionOf(b)!.why } : null } : {}) })) })),
          failures,
          ...(args.prune ? { deleted, notDeleted, dryRun: args['dry-run'] } : {}),
        });
      if (entries.some((e) => e.certroll && !e.verified)) setExitCode(ExitCode.findings);
      if (failures.length) setExitCode(ExitCode.hostFailure);
    } finally {
      await fleet.close();
    }
  },
};

async function confirm(args: BackupsArgs, n: number): Promise<void> {
  if (args.yes) return;
  if (!process.stdin.isTTY) throw new SafetyStop('confirm', 'confirmation needed but stdin is not a terminal', 'review with --dry-run and pass --yes');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = (await rl.question(`Delete ${n} backup${n === 1 ? '' : 's'}? Type "yes" to go on: `)).trim();
  rl.close();
  if (answer !== 'yes') throw new SafetyStop('confirm', 'not confirmed; nothing was deleted');
}
