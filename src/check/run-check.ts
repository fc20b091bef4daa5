// Runs the check on a fleet: validates the check paths, then per host one connection and one exec of the scan script, then folds.
import { HostError, InputError, type InputIssue } from '../errors.js';
import type { Host, Inventory } from '../inventory/types.js';
import pLimit from 'p-limit';
import { connect, CredentialStore, defaultConnectOptions, toHostError, type ConnectOptions, type SshEvent, type TransportCounters } from '../ssh/index.js';
import { once } from '../ssh/options.js';
import type { Remote } from '../ssh/remote.js';
import { CertDecoder, hostHoldings } from './holdings.js';
import type { CheckReport, HostOutcome, HostHoldings, KubeadmNodeView } from './model.js';
import { kubeadmLayout, kubeadmNodeView, kubeletFiles, type KubeadmLayout } from './kubeadm.js';
import { buildReport } from './report.js';
import { buildScanScript, checkPathProblem, expandBraces } from './scan-script.js';
import { parseScanOutput } from './scan-output.js';
import { defaultSecretsOptions, readSecrets, secretsSummary, type SecretsRead } from './secrets.js';
import type { SecretsSummary } from './model.js';

export interface CheckOptions {
  /** Certificates expiring within this many days are findings (exit 1). */
  warnDays: number;
  /** Hosts worked on at once. */
  forks: number;
  acceptNewHostKeys: boolean;
  /** The time expiry is measured against (tests pin it). */
  now?: () => Date;
  onEvent?: (e: SshEvent) => void;
  /** Extra options for the SSH layer (env, prompts). */
  connect?: Partial<ConnectOptions>;
  /** Read the certificates in Kubernetes secrets (`--secrets`); default: the inventory's `secrets` var. */
  secrets?: boolean;
  /** Bytes read at most from the secrets command (after the host-side filter). */
  secretsMaxBytes: number;
  /** The secrets command's whole time limit. */
  secretsTimeoutMs: number;
}

export const defaultCheckOptions: CheckOptions = {
  warnDays: 30,
  forks: 20,
  acceptNewHostKeys: false,
  secretsMaxBytes: defaultSecretsOptions.maxBytes,
  secretsTimeoutMs: defaultSecretsOptions.timeoutMs,
};

export interface CheckRun {
  report: CheckReport;
  /** Transport counters summed over every host reached (the benchmark reports them). */
  counters: TransportCounters;
  durationMs: number;
}

/** Every problem with the hosts' check paths, located in the inventory; nothing is contacted before they are valid. */
export function validateCheckPaths(inv: Pick<Inventory, 'file'>, hosts: readonly Host[]): void {
  const issues: InputIssue[] = [];
  const seen = new Set<string>();
  for (const h of hosts) {
    h.vars.checkPaths.forEach((p, i) => {
      const problems = [checkPathProblem(p), ...expandBraces(p).map(checkPathProblem)].filter((x): x is string => !!x);
      const key = `${p}\0${problems[0]}`;
      if (problems.length && !seen.has(key)) {
        seen.add(key);
        issues.push({ file: h.definedAt.file ?? inv.file, ...(h.definedAt.line ? { line: h.definedAt.line } : {}), path: `hosts.${h.name}.vars.checkPaths[${i}]`, message: problems[0]! });
      }
    });
  }
  if (issues.length) throw new InputError(issues, 'Invalid check paths:');
}

/** The groups of a kubeadm inventory (docs/check.md): kubeadm's tables are made for `control-plane` hosts. */
export const KUBEADM_GROUPS = { controlPlane: 'control-plane', workers: 'workers', etcd: 'etcd' } as const;

/** What the scan of one host covers: its check paths, plus kubeadm's own files on a kubeadm node, and the CA keys to probe. */
export interface HostScan {
  paths: string[];
  probes: string[];
  /** Only for a host of group control-plane. */
  kubeadm?: KubeadmLayout;
}

/**
 * A control-plane node's etcd is stacked when it is itself in group etcd, or when the inventory has no etcd host at all;
 * otherwise it is external (kubeadm then lists no etcd rows).
 */
export function scanFor(host: Host, groups?: Readonly<Record<string, readonly string[]>>): HostScan {
  const paths = [...host.vars.checkPaths];
  const probes: string[] = [];
  const add = (p: string) => {
    if (!paths.includes(p)) paths.push(p);
  };
  let layout: KubeadmLayout | undefined;
  if (host.groups.includes(KUBEADM_GROUPS.controlPlane)) {
    const etcdHosts = groups?.[KUBEADM_GROUPS.etcd] ?? [];
    const stacked = host.groups.includes(KUBEADM_GROUPS.etcd) || etcdHosts.length === 0;
    layout = kubeadmLayout(host.vars, stacked ? 'stacked' : 'external');
    for (const c of layout.certificates) add(c.file);
    for (const ca of layout.cas) {
      add(ca.file);
      probes.push(ca.keyFile);
    }
  }
  if (layout || host.groups.includes(KUBEADM_GROUPS.workers)) for (const f of kubeletFiles(host.vars)) add(f);
  return { paths, probes, ...(layout ? { kubeadm: layout } : {}) };
}

/** Scan one connected host: one exec of the scan script; its output parsed into what the host holds. */
export async function scanHost(remote: Remote, host: Host, script: string, decoder: CertDecoder): Promise<HostHoldings> {
  const res = await remote.sh(script, { allowFailure: true });
  const parsed = parseScanOutput(res.stdout);
  if (!parsed.ok || res.exitCode !== 0) {
    const stderr = res.stderr.trim();
    const why = !parsed.ok ? parsed.problem : `the scan script exited with ${res.exitCode ?? res.signal}`;
    throw new HostError(host.name, 'command', `${host.name}: cannot read the check paths: ${why}`,
      /awk: (not found|command not found)|sh: \d+: awk/.test(stderr) ? `install awk (mawk, gawk or busybox) on ${host.name}` : undefined,
      stderr ? stderr.split('\n').slice(-5).join('\n') : undefined);
  }
  return hostHoldings(host.name, parsed.files, decoder, parsed);
}

/** The whole check: never throws because of one host; a host that fails is in the report with its error. */
export async function checkFleet(inv: Pick<Inventory, 'file'> & Partial<Pick<Inventory, 'groups'>>, hosts: readonly Host[], options: Partial<CheckOptions> = {}): Promise<CheckRun> {
  const opts = { ...defaultCheckOptions, ...options };
  validateCheckPaths(inv, hosts);
  const scans = new Map(hosts.map((h) => [h.name, scanFor(h, inv.groups)]));
  const scripts = new Map<string, string>();
  const scriptFor = (h: Host) => {
    const scan = scans.get(h.name)!;
    const key = JSON.stringify([scan.paths, scan.probes]);
    let s = scripts.get(key);
    if (!s) scripts.set(key, (s = buildScanScript({ paths: scan.paths, probes: scan.probes })));
    return s;
  };
  for (const h of hosts) scriptFor(h);
  // Secrets are read once, through kubectl on the first selected master (the cluster's secrets are the same from any).
  const secretsHost = hosts.find((h) => h.groups.includes('master'));
  const wantSecrets = opts.secrets ?? (secretsHost ? secretsHost.vars.secrets === true : hosts.some((h) => h.vars.secrets === true));
  let secrets: SecretsSummary | undefined = wantSecrets && !secretsHost
    ? { host: '', status: 'unavailable', values: 0, problem: 'no-host', reason: 'no host of the master group is selected (--limit): the secrets were not read' }
    : undefined;

  const started = Date.now();
  const decoder = new CertDecoder();
  const outcomes = new Map<string, HostOutcome>();
  const fail = (name: string, e: HostError): HostOutcome => ({
    ok: false,
    failure: { host: name, kind: e.kind, message: e.shortMessage.replace(new RegExp(`^${escapeRe(name)}: `), ''), ...(e.hint ? { hint: e.hint } : {}) },
  });
  // Each host is connected, scanned and closed in one task (no barrier between connecting every host and reading
  // them): hosts that answer fast are done while slow ones still handshake, and sshd sessions end as early as possible.
  const connectOpts: ConnectOptions = {
    ...defaultConnectOptions,
    ...opts.connect,
    forks: opts.forks,
    acceptNewHostKeys: opts.acceptNewHostKeys,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  };
  connectOpts.passphrase = once(connectOpts.passphrase);
  connectOpts.password = once(connectOpts.password);
  connectOpts.becomePassword = once(connectOpts.becomePassword);
  const store = new CredentialStore(connectOpts);
  const limit = pLimit(Math.max(1, opts.forks));
  const counters: TransportCounters = { connections: 0, roundTrips: 0 };
  await Promise.all(
    hosts.map((h) =>
      limit(async () => {
        let remote: Remote | undefined;
        try {
          remote = await connect(h, connectOpts, store);
          const holdings = await scanHost(remote, h, scriptFor(h), decoder);
          if (wantSecrets && h === secretsHost) {
            const read: SecretsRead = await readSecrets(remote, h, {
              ...(h.vars.kubectl ? { kubectl: h.vars.kubectl } : {}),
              ...(h.vars.kubeconfig ? { kubeconfig: h.vars.kubeconfig } : {}),
              maxBytes: opts.secretsMaxBytes,
              timeoutMs: opts.secretsTimeoutMs,
            }, decoder);
            secrets = secretsSummary(h.name, read);
            if (read.ok) {
              holdings.certs.push(...read.holdings.certs);
              holdings.notes.push(...read.holdings.notes);
            }
          }
          outcomes.set(h.name, { ok: true, holdings });
        } catch (err) {
          outcomes.set(h.name, fail(h.name, toHostError(h.name, err)));
          if (wantSecrets && h === secretsHost) {
            secrets = { host: h.name, status: 'unavailable', values: 0, problem: 'failed', reason: `${h.name} could not be read, so neither could the secrets` };
          }
        } finally {
          if (remote) {
            counters.connections += remote.counters.connections;
            counters.roundTrips += remote.counters.roundTrips;
            await remote.close().catch(() => undefined);
          }
        }
      }),
    ),
  );
  const now = opts.now?.() ?? new Date();
  const checkPaths = [...new Set(hosts.flatMap((h) => h.vars.checkPaths))];
  const kubeadm: KubeadmNodeView[] = [];
  for (const h of hosts) {
    const layout = scans.get(h.name)!.kubeadm;
    if (!layout) continue;
    const o = outcomes.get(h.name);
    kubeadm.push(o?.ok ? kubeadmNodeView(h.name, o.holdings, layout, now) : { host: h.name, etcd: layout.etcd, certificates: [], certificateAuthorities: [], error: o && !o.ok ? o.failure.message : 'not checked' });
  }
  const report = buildReport({
    hosts: hosts.map((h) => ({ name: h.name, address: h.address })),
    outcomes,
    warnDays: opts.warnDays,
    now,
    checkPaths,
    ...(secrets ? { secrets } : {}),
    ...(kubeadm.length ? { kubeadm } : {}),
  });
  return { report, counters, durationMs: Date.now() - started };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
