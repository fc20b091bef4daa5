// The playbook checked against the inventory it will run on (pure): every target exists, single-host steps name one host,
// every {{ }} renders for every host it is rendered for, written hosts are backed up first, directories do not collide.
// Everything found here is found before the first connection; nothing may fail on it later.
import type { InputIssue } from '../errors.js';
import { clusterVarNames, type ClusterVars, type Inventory } from '../inventory/types.js';
import { formatPath, type YamlPath } from '../yaml/located.js';
import { hostScope, resolveTargets } from '../inventory/targets.js';
import { templateProblems } from './template.js';
import type { Playbook, StepSpec } from './types.js';

const groupOf = (target: string) => /^first\((.+)\)$/.exec(target)?.[1] ?? target;
const list = (names: string[], max = 5) => (names.length > max ? `${names.slice(0, max).join(', ')} (+${names.length - max} more)` : names.join(', '));

/** Steps whose hosts get their cert dir (or its manifests) changed, so they must be backed up before. */
const BACKED_UP_STEPS = new Set<StepSpec['type']>(['renew-ca', 'issue-cert', 'distribute', 'rolling-restart']);

/** Hosts a step runs on, as the planner resolves them. */
export function stepHosts(inv: Inventory, step: StepSpec): string[] {
  if ('targets' in step) return resolveTargets(inv, step.targets);
  if ('on' in step) return resolveTargets(inv, [step.on]);
  return step.type === 'preflight' ? inv.hosts.map((h) => h.name) : [];
}

/** Hosts etcdctl runs on: every etcd member (health, rollback), the first master (preflight), every restarted node. */
export function etcdctlHosts(inv: Inventory, pb?: Playbook): string[] {
  const restarted = (pb?.steps ?? []).flatMap((s) => (s.type === 'rolling-restart' ? stepHosts(inv, s) : []));
  const names = new Set([...(inv.groups.etcd ?? []), inv.firstMaster, ...restarted]);
  return inv.hosts.map((h) => h.name).filter((n) => names.has(n));
}

/** Every problem of running `pb` against `inv`, located in the file that has to change. */
export function checkAgainstInventory(inv: Inventory, pb: Playbook): InputIssue[] {
  const issues: InputIssue[] = [];
  const inPlaybook = (path: YamlPath, message: string, fallbackLine?: number) =>
    issues.push({ file: pb.file, line: pb.lineOf?.(path) ?? fallbackLine, path: formatPath(path), message });
  const inInventory = (path: YamlPath, message: string, line?: number) =>
    issues.push({ file: inv.file, line: line ?? inv.lineOf?.(path), path: formatPath(path), message });

  // Targets name groups the inventory has.
  let targetsOk = true;
  pb.steps.forEach((step, i) => {
    const specs = 'targets' in step ? step.targets.map((t, k) => ({ t, path: ['steps', i, 'targets', k] as YamlPath })) : 'on' in step ? [{ t: step.on, path: ['steps', i, 'on'] as YamlPath }] : [];
    for (const { t, path } of specs) {
      const g = groupOf(t);
      if (g !== 'all' && !(g in inv.groups)) {
        targetsOk = false;
        inPlaybook(path, `target "${t}" names the group "${g}", which ${inv.file} does not define (groups: ${Object.keys(inv.groups).join(', ')})`, step.at.line);
      }
    }
  });

  // The rolling restart needs etcd members.
  if (!(inv.groups.etcd ?? []).length && pb.steps.some((s) => s.type === 'rolling-restart'))
    inInventory(['groups', 'etcd'], 'the playbook restarts etcd but the inventory has no etcd hosts (list them under groups: etcd:)', inv.lineOf?.(['groups', 'etcd']) ?? inv.lineOf?.(['groups']));
  if (!targetsOk) return issues;

  pb.steps.forEach((step, i) => {
    const hosts = stepHosts(inv, step);
    // A single-host step (`on:`) runs on exactly one host.
    if ('on' in step && hosts.length !== 1)
      inPlaybook(['steps', i, 'on'], `${step.type} runs on one host, but "${step.on}" is ${hosts.length === 0 ? 'no host (the group is empty)' : `${hosts.length} hosts (${list(hosts)})`}; use first(GROUP) or a group of one`, step.at.line);
  });

  // Hosts whose cert dir changes were backed up by an earlier step (invariant 1; the restart restores a failed node from it).
  const backedUp = new Set<string>();
  pb.steps.forEach((step, i) => {
    const hosts = stepHosts(inv, step);
    if (step.type === 'backup') hosts.forEach((h) => backedUp.add(h));
    else if (BACKED_UP_STEPS.has(step.type)) {
      const missing = hosts.filter((h) => !backedUp.has(h));
      if (missing.length)
        inPlaybook(['steps', i, 'type'], `${step.type} changes ${list(missing)}, which no earlier backup step covers; add them to the backup's targets (nothing may change before its backup exists)`, step.at.line);
    }
  });

  // A node is restarted by one rolling-restart step only.
  const restartedBy = new Map<string, number>();
  pb.steps.forEach((step, i) => {
    if (step.type !== 'rolling-restart') return;
    const twice = stepHosts(inv, step).filter((h) => restartedBy.has(h) && restartedBy.get(h) !== i);
    if (twice.length) inPlaybook(['steps', i, 'targets'], `${list(twice)} would be restarted again (already by step ${restartedBy.get(twice[0]!)! + 1}): one rolling-restart per host`, step.at.line);
    stepHosts(inv, step).forEach((h) => restartedBy.set(h, i));
  });

  // Every template renders for every host it is rendered for.
  const fields: Array<{ path: YamlPath; argv: readonly string[]; hosts: string[]; line?: number }> = [
    { path: ['etcdctl'], argv: pb.etcdctl, hosts: etcdctlHosts(inv, pb) },
  ];
  const firstRestart = pb.steps.findIndex((s) => s.type === 'rolling-restart');
  pb.steps.forEach((step, i) => {
    let hosts = stepHosts(inv, step);
    // `rollback` restarts every etcd member with the first rolling-restart step's checks.
    if (i === firstRestart) hosts = inv.hosts.map((h) => h.name).filter((n) => hosts.includes(n) || (inv.groups.etcd ?? []).includes(n));
    if (step.type === 'rolling-restart') {
      if (step.pods) {
        fields.push({ path: ['steps', i, 'containerIds'], argv: step.containerIds, hosts, line: step.at.line });
        step.pods.forEach((p, k) => {
          if (p.health !== 'etcd') p.health.forEach((c, j) => fields.push({ path: ['steps', i, 'pods', k, 'health', j], argv: c, hosts, line: step.at.line }));
        });
      } else fields.push({ path: ['steps', i, 'containerCheck'], argv: step.containerCheck, hosts, line: step.at.line });
      if (step.apiserverCheck) fields.push({ path: ['steps', i, 'apiserverCheck'], argv: step.apiserverCheck, hosts, line: step.at.line });
      step.served.forEach((x, k) => fields.push({ path: ['steps', i, 'served', k], argv: [x.endpoint, x.cert], hosts, line: step.at.line }));
    } else if (step.type === 'restart-flannel') fields.push({ path: ['steps', i, 'command'], argv: step.command, hosts, line: step.at.line });
  });
  const scopes = new Map(inv.hosts.map((h) => [h.name, hostScope(inv, pb, h.name)]));
  for (const f of fields)
    f.argv.forEach((arg, k) => {
      const byProblem = new Map<string, string[]>();
      for (const h of f.hosts)
        for (const p of templateProblems(arg, scopes.get(h)!).map(unsetVariable)) (byProblem.get(p) ?? byProblem.set(p, []).get(p)!).push(h);
      for (const [problem, hosts] of byProblem) inPlaybook([...f.path, k], `${problem} for ${hosts.length === 1 ? 'host' : 'hosts'} ${list(hosts)}${templateHint(problem, inv)}`, f.line);
    });

  // The restart moves manifests between two directories; neither may be the other, nor the cert dir (or inside it).
  // kubeadm's kubernetes dir (the cert dir its steps back up whole) holds manifests/ and the park dir by design.
  const kubernetesDirHoldsManifests = pb.steps.some((s) => s.type === 'renew-cas' || s.type === 'renew-leaves' || s.type === 'renew-kubeconfigs');
  dirProblems(inv, (path, message, line) => issues.push({ file: inv.file, line, path, message }), kubernetesDirHoldsManifests);
  return issues;
}

/** `{{ vars.tosVersion }} refers to nothing` → `{{ vars.tosVersion }} is not set` when tosVersion is a variable left unset. */
function unsetVariable(problem: string): string {
  const m = /^\{\{ vars\.([\w-]+)(\S*) \}\} refers to nothing$/.exec(problem);
  return m && (clusterVarNames as readonly string[]).includes(m[1]!) ? `{{ vars.${m[1]}${m[2]} }} is not set` : problem;
}

function templateHint(problem: string, inv: Inventory): string {
  const m = /^\{\{ vars\.([\w-]+)/.exec(problem);
  if (!m) return '';
  if (/is not set/.test(problem)) return ` (set vars.${m[1]} in ${inv.file})`;
  if (/refers to nothing/.test(problem)) return ` (variables: ${clusterVarNames.join(', ')})`;
  return '';
}

const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`);

/** Per host: parkDir ≠ manifestsDir; neither is the cert dir nor inside it. One issue per place that set the value. */
function dirProblems(inv: Inventory, fail: (path: string, message: string, line?: number) => void, kubernetesDir = false): void {
  const rules: Array<[keyof ClusterVars, keyof ClusterVars, boolean, string]> = [
    // [a, b, also refuse a inside b, why]
    ['parkDir', 'manifestsDir', false, 'a parked manifest would still be in the manifests directory, so the node would never stop'],
    ['parkDir', 'certDir', true, 'manifests would be parked among the certificates (and in their backup)'],
    ['manifestsDir', 'certDir', true, 'the manifests would sit among the certificates (and in their backup)'],
  ];
  const found = new Map<string, { path: string; line?: number; message: (hosts: string[]) => string; hosts: string[] }>();
  for (const h of inv.hosts) {
    const where = (k: keyof ClusterVars) => h.varsAt?.[k] ?? { path: `hosts.${h.name}`, line: h.definedAt.line, default: true as const };
    for (const [a, b, nested, why] of rules) {
      const va = h.vars[a] as string;
      const vb = h.vars[b] as string;
      if (va !== vb && !(nested && !kubernetesDir && inside(va, vb))) continue;
      const wa = where(a);
      const wb = where(b);
      const from = (w: ReturnType<typeof where>, k: string) => ('default' in w ? `${k} is the default` : `${k} from ${w.path}`);
      const place = (w: ReturnType<typeof where>) => ('default' in w ? `default:${h.name}` : w.path);
      const key = `${place(wa)}|${a}|${b}|${va}|${vb}|${'default' in wb ? 'default' : wb.path}`;
      const entry = found.get(key) ?? { path: 'default' in wa ? `${wa.path}.vars.${a}` : wa.path, line: wa.line, hosts: [], message: (hs: string[]) => `${a} ${va} ${va === vb ? 'is the same directory as' : 'is inside'} ${b} ${vb} on ${hs.length === 1 ? 'host' : 'hosts'} ${list(hs)} (${from(wa, a)}, ${from(wb, b)}): ${why}` };
      entry.hosts.push(h.name);
      found.set(key, entry);
    }
  }
  for (const e of found.values()) fail(e.path, e.message(e.hosts), e.line);
}
