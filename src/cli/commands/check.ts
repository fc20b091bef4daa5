// `certroll check`: every certificate on every selected host, folded fleet-wide; exit 1 on expiry within --warn-days, 2 on unread hosts.
import { warnAboutInventory } from '../../inventory/warnings.js';
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { selectHosts } from '../../inventory/limit.js';
import { checkFleet } from '../../check/run-check.js';
import { renderText } from '../../check/render-text.js';
import { renderPrometheus } from '../../check/render-prometheus.js';
import { renderKubeadm } from '../../check/render-kubeadm.js';
import { KUBEADM_GROUPS } from '../../check/run-check.js';
import { makeUi, setExitCode, sshPrompts, withFleetOptions, type GlobalOptions } from '../common.js';
import { checkOutputFile, numberOption } from '../flags.js';
import { heads } from './heads.js';

export type CheckFormat = 'table' | 'json' | 'prometheus' | 'kubeadm';

export interface CheckArgs extends GlobalOptions {
  'warn-days': number;
  format?: CheckFormat;
  output?: string;
  wide: boolean;
  secrets?: boolean;
}

/** Write a file by rename, so that node_exporter never reads half a file. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const abs = resolve(file);
  const tmp = join(dirname(abs), `.${basename(abs)}.certroll-tmp-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, abs);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new UsageError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export const checkCommand: CommandModule<{}, any> = {
  ...heads.check,
  builder: (y: Argv) =>
    withFleetOptions(y)
      .option('warn-days', numberOption('warn-days', 'Exit 1 when a certificate expires within this many days (or has expired)', 30))
      .option('format', {
        choices: ['table', 'json', 'prometheus', 'kubeadm'] as const,
        describe: 'Output: table (default), json (same as --json), prometheus (node_exporter textfile metrics), kubeadm (`kubeadm certs check-expiration`\'s two tables per control-plane node)',
      })
      .option('wide', { type: 'boolean', default: false, describe: 'List every host by name (host lists are folded once long: "all 205", "200 of 205: x1–x200")' })
      .option('secrets', { type: 'boolean', describe: 'Also read the certificates held in Kubernetes secrets, through kubectl on the first master (default: the inventory\'s vars.secrets; --no-secrets turns it off)' })
      .option('output', { alias: 'o', type: 'string', describe: 'Write the output to this file (atomically: for the node_exporter textfile collector) instead of stdout' })
      .check((a) => {
        checkOutputFile(a.output);
        if (a.json && a.format && a.format !== 'json') throw new UsageError(`--json and --format ${a.format} contradict each other: give one`);
        return true;
      })
      .example('$0 check -i inventories/prod.yaml', 'Table of every certificate, expiring ones highlighted')
      .example('$0 check -i inventories/example-kubeadm.yaml --format kubeadm', 'kubeadm certs check-expiration, on every control-plane node at once')
      .example('$0 check -i inv.yaml --secrets', 'Also the certificates in Kubernetes secrets (TLS, Istio CA, kubeconfigs)')
      .example('$0 check -i inv.yaml --format prometheus -o /var/lib/node_exporter/textfile/certroll.prom', 'Metrics for node_exporter'),
  handler: async (argv) => {
    const args = argv as unknown as CheckArgs;
    const format: CheckFormat = args.format ?? (args.json ? 'json' : 'table');
    const ui = makeUi({ json: format !== 'table', ...(args.color !== undefined ? { color: args.color } : {}) });
    const inv = warnAboutInventory(await loadInventory(args.inventory));
    const hosts = selectHosts(inv, args.limit);
    if (format === 'kubeadm' && !hosts.some((h) => h.groups.includes(KUBEADM_GROUPS.controlPlane))) {
      throw new UsageError(`--format kubeadm: no host of group ${KUBEADM_GROUPS.controlPlane} is selected${args.limit ? ` by --limit ${args.limit}` : ` in ${args.inventory}`} (kubeadm lists the certificates of control-plane nodes)`);
    }
    const run = await checkFleet(inv, hosts, {
      warnDays: args['warn-days'],
      forks: args.forks,
      acceptNewHostKeys: args['accept-new-host-keys'],
      connect: sshPrompts(),
      ...(args.secrets !== undefined ? { secrets: args.secrets } : {}),
      onEvent: (e) => {
        if (e.type === 'host-key-added') ui.say(ui.p.yellow(`note: ${e.host}: added host key ${e.fingerprint} to ${e.file}`));
      },
    });
    const { report } = run;
    let text: string;
    if (format === 'json') {
      text = JSON.stringify({ ...report, run: { durationMs: run.durationMs, connections: run.counters.connections, roundTrips: run.counters.roundTrips } }, null, 2) + '\n';
    } else if (format === 'prometheus') {
      text = renderPrometheus(report);
    } else if (format === 'kubeadm') {
      text = renderKubeadm(report) + '\n';
    } else {
      text = renderText(report, ui.p, { wide: args.wide }) + '\n';
    }
    if (args.output) {
      await writeAtomically(args.output, text);
      if (format !== 'table') {
        const s = report.summary;
        ui.say(`wrote ${args.output}: ${s.hostsRead}/${s.hosts} hosts read, ${s.expired} expired, ${s.expiring} expiring within ${report.warnDays} days`);
      }
    } else process.stdout.write(text);
    setExitCode(report.summary.exitCode);
  },
};
