// Load and validate a playbook YAML file: unknown step types and parameters are errors with file and line.
import { InputError } from '../errors.js';
import { parseYaml, type YamlPath } from '../yaml/located.js';
import { readInputFile } from '../yaml/read-input.js';
import {
  ValidationContext,
  isInvalid,
  isMapping,
  unknownKeyMessage,
  object,
  optional,
  withDefault,
  str,
  int,
  bool,
  oneOf,
  listOf,
  sortIssues,
  INVALID,
  describeValue,
  absPath,
  type Rule,
} from '../yaml/validate.js';
import { defaultEtcdctl, type Playbook, type StepSpec, type StepType } from './types.js';
import { templateSyntaxProblems } from './template.js';
import { playbookRules, parseGoDuration } from './rules.js';

const FILE_NAME = /^[A-Za-z0-9._+@%=,-]+$/;
/** A plain file name inside a directory: no `/`, not `.` or `..`. */
const fileName = (): Rule<string> => {
  const base = str({ pattern: FILE_NAME, expected: 'a plain file name (letters, digits, . _ + @ % = , -), no slashes', maxLength: 255 });
  return (v, path, ctx) => {
    if (v === '.' || v === '..') return ctx.fail(path, `expected a plain file name, got ${JSON.stringify(v)} (a directory, not a file)`);
    return base(v, path, ctx);
  };
};
/** A file inside the cert dir: a plain name, or a relative path of plain names (`pki/etcd/ca.crt`), never `.` or `..`. */
const relativeFile = (): Rule<string> => (v, path, ctx) => {
  if (typeof v !== 'string' || !v || v.startsWith('/') || v.split('/').some((p) => !FILE_NAME.test(p) || p === '.' || p === '..'))
    return ctx.fail(path, `expected a file name or a relative path inside the cert dir (like pki/etcd/ca.crt: letters, digits, . _ + @ % = , -; no "..", no leading /), got ${describeValue(v)}`);
  return v;
};
const KUBEADM_CAS = ['ca', 'front-proxy-ca', 'etcd/ca'];
const KUBEADM_LEAVES = ['apiserver', 'apiserver-kubelet-client', 'apiserver-etcd-client', 'front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client'];
const KUBEADM_KUBECONFIGS = ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kubelet.conf'];
const GO_DURATION_EXPECTED = 'a Go duration as cfssl reads it, like "87600h" or "8760h30m"';
const goDuration = (): Rule<string> => {
  const base = str({ expected: GO_DURATION_EXPECTED, maxLength: 40 });
  return (v, path, ctx) => {
    const r = base(v, path, ctx);
    if (isInvalid(r)) return r;
    const ms = parseGoDuration(r);
    if (ms === undefined || ms <= 0) return ctx.fail(path, `expected ${GO_DURATION_EXPECTED} (greater than 0), got ${describeValue(v)}`);
    return r;
  };
};
const target = () =>
  str({ pattern: /^(all|[A-Za-z0-9_.-]+|first\([A-Za-z0-9_.-]+\))$/, expected: 'a target: all, a group name, or first(GROUP)', maxLength: 200 });
/** A single target or a list of them. */
const targets = (): Rule<string[]> => (v, path, ctx) => {
  if (typeof v !== 'string') return listOf(target(), { minItems: 1, itemName: 'target' })(v, path, ctx);
  const one = target()(v, path, ctx);
  return isInvalid(one) ? one : [one];
};
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A pod's health: `etcd` (the member healthy and caught up) or a list of commands (argv lists) that must all exit 0. */
const podHealth = (): Rule<'etcd' | string[][]> => (v, path, ctx) => {
  if (v === 'etcd') return 'etcd';
  if (typeof v === 'string') return ctx.fail(path, `expected "etcd" or a list of commands (each a list of arguments), got ${describeValue(v)}`);
  return listOf(argv(), { minItems: 1, itemName: 'command' })(v, path, ctx);
};
/** Fields of a rolling restart without pods (TOS): with `pods`, each pod names its manifest, container and health. */
const WITHOUT_PODS = ['manifests', 'containerCheck', 'containerNames', 'apiserverCheck'] as const;
const argv = () => listOf(str({ expected: 'a command argument (a string without newlines)', maxLength: 4096 }), { minItems: 1, itemName: 'argument' });
/** A pause may be 0; a timeout may not (0 would make the check it bounds meaningless). */
const pause = (max: number) => int(0, max);
const timeout = (max: number) => int(1, max);

const stepShapes: Record<StepType, Record<string, Rule<unknown>>> = {
  preflight: { minFreeMiB: withDefault(int(0, 1_000_000), 10) },
  backup: { targets: withDefault(targets(), ['all']) },
  'renew-ca': { on: withDefault(target(), 'first(master)'), days: withDefault(int(1, 36500 * 2), 36500) },
  'issue-cert': {
    on: withDefault(target(), 'first(master)'),
    days: withDefault(int(1, 36500 * 2), 36500),
    keyType: withDefault(oneOf(['rsa2048', 'rsa4096', 'ecdsa-p256'] as const), 'rsa2048'),
    allowSanRemoval: withDefault(bool(), false),
  },
  distribute: { targets: withDefault(targets(), ['etcd', 'master', 'flannel', 'manager']) },
  'rolling-restart': {
    targets: withDefault(targets(), ['etcd']),
    manifests: withDefault(listOf(fileName(), { minItems: 1, itemName: 'manifest', unique: true }), ['tos-etcd.manifest', 'tos-apiserver.manifest']),
    containerCheck: withDefault(argv(), ['docker', 'ps']),
    containerNames: withDefault(listOf(str({ maxLength: 200 }), { minItems: 1, itemName: 'container name' }), ['tos-etcd', 'tos-apiserver']),
    pauseSeconds: withDefault(pause(3600), 30),
    stopTimeoutSeconds: withDefault(timeout(3600), 120),
    healthTimeoutSeconds: withDefault(timeout(3600), 180),
    maxRaftLag: withDefault(int(0, 1_000_000), 50),
    apiserverCheck: optional(argv()),
    pods: optional(listOf(object({ manifest: fileName(), container: str({ pattern: CONTAINER_NAME, expected: 'a container name (letters, digits, . _ -)', maxLength: 200 }), health: podHealth() }), { minItems: 1, itemName: 'pod' })),
    containerIds: withDefault(argv(), ['crictl', 'ps', '-q', '--name']),
    served: withDefault(listOf(object({ endpoint: str({ maxLength: 300 }), cert: str({ maxLength: 4096 }) })), []),
    when: withDefault(oneOf(['renewed', 'always'] as const), 'renewed'),
  },
  'restart-flannel': {
    on: withDefault(target(), 'first(master)'),
    command: argv(),
    skipIfMissing: optional(str({ pattern: /^[A-Za-z0-9._+-]+$/, expected: 'a program name', maxLength: 200 })),
  },
  verify: { targets: withDefault(targets(), ['etcd', 'master', 'flannel', 'manager']) },
  'manager-templates': {
    targets: withDefault(targets(), ['manager']),
    expiryFrom: withDefault(goDuration(), '87600h'),
    expiry: withDefault(goDuration(), '876000h'),
  },
  'renew-cas': {
    targets: withDefault(targets(), ['control-plane']),
    days: withDefault(int(1, 36500), 3650),
    cas: withDefault(listOf(oneOf(KUBEADM_CAS), { minItems: 1, itemName: 'CA', unique: true }), KUBEADM_CAS),
    pkiDir: withDefault(relativeFile(), 'pki'),
  },
  'renew-leaves': {
    targets: withDefault(targets(), ['control-plane']),
    days: withDefault(int(1, 36500), 365),
    keepKeys: withDefault(bool(), false),
    leaves: withDefault(listOf(oneOf(KUBEADM_LEAVES), { minItems: 1, itemName: 'leaf', unique: true }), KUBEADM_LEAVES),
    pkiDir: withDefault(relativeFile(), 'pki'),
  },
  'renew-kubeconfigs': {
    targets: withDefault(targets(), ['control-plane']),
    days: withDefault(int(1, 36500), 365),
    keepKeys: withDefault(bool(), false),
    kubeconfigs: withDefault(listOf(fileName(), { minItems: 1, itemName: 'kubeconfig', unique: true }), KUBEADM_KUBECONFIGS),
    pkiDir: withDefault(relativeFile(), 'pki'),
  },
  'manager-db': {
    on: withDefault(target(), 'first(manager)'),
    table: withDefault(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, expected: "a table name (letters, digits, '_'), at most 30 characters", maxLength: 30 }), 'manager_info'),
  },
  'refresh-kube-config': { targets: withDefault(targets(), ['control-plane']), adminConf: optional(absPath()) },
};

export const stepTypes = Object.keys(stepShapes) as StepType[];

function stepRule(): Rule<StepSpec & { title: string }> {
  return (v, path, ctx) => {
    if (!isMapping(v)) return ctx.fail(path, `expected a step (a mapping with "type"), got ${Array.isArray(v) ? 'a list' : JSON.stringify(v)}`);
    const type = v.type;
    if (typeof type !== 'string' || !(type in stepShapes)) {
      return ctx.fail([...path, 'type'], typeof type === 'string' ? unknownKeyMessage(type, stepTypes).replace('unknown key', 'unknown step type') : `expected a step type, one of: ${stepTypes.join(', ')}`);
    }
    const shape = { type: str(), name: optional(str({ maxLength: 200 })), ...stepShapes[type as StepType] };
    const r = object(shape)(v, path, ctx);
    if (isInvalid(r)) return r;
    const { name, ...rest } = r as Record<string, unknown>;
    if (type === 'rolling-restart' && rest.pods) {
      const written = WITHOUT_PODS.filter((k) => Object.hasOwn(v, k));
      for (const k of written) ctx.fail([...path, k], `${k} is for a rolling restart without pods; with pods, each pod names its manifest, container and health`);
      if (written.length) return INVALID;
      const pods = rest.pods as Array<{ manifest: string; container: string }>;
      Object.assign(rest, { manifests: pods.map((p) => p.manifest), containerNames: pods.map((p) => p.container), containerCheck: rest.containerIds });
      const dup = pods.findIndex((p, i) => pods.findIndex((q) => q.manifest === p.manifest) !== i);
      if (dup >= 0) return ctx.fail([...path, 'pods', dup, 'manifest'], `${pods[dup]!.manifest} is restarted twice on a node; list each pod once`);
    }
    return { ...(rest as unknown as StepSpec), title: (name as string | undefined) ?? type };
  };
}

/** The fields filled in per host with {{ }} references (argv lists). Anywhere else a "{{" is refused: it would stay literal. */
export const TEMPLATED_FIELDS: Readonly<Partial<Record<StepType | 'playbook', readonly string[]>>> = {
  playbook: ['etcdctl'],
  'rolling-restart': ['containerCheck', 'apiserverCheck', 'pods', 'containerIds', 'served'],
  'restart-flannel': ['command'],
};

/** Validate the text of a playbook (pure: used by tests and by loadPlaybook). */
export function parsePlaybook(text: string, file: string): Playbook {
  const { doc, issues } = parseYaml(text, file);
  if (!doc) throw new InputError(issues, `${file}: invalid playbook`);
  const ctx = new ValidationContext(doc);
  ctx.issues.push(...issues);
  const rule = object({
    name: str({ maxLength: 200 }),
    description: optional(str({ maxLength: 2000 })),
    files: withDefault(
      object({ ca: withDefault(relativeFile(), 'etcd-ca.pem'), caKey: withDefault(relativeFile(), 'etcd-ca-key.pem'), cert: withDefault(relativeFile(), 'etcd.pem'), key: withDefault(relativeFile(), 'etcd-key.pem') }),
      { ca: 'etcd-ca.pem', caKey: 'etcd-ca-key.pem', cert: 'etcd.pem', key: 'etcd-key.pem' },
    ),
    etcdctl: withDefault(argv(), defaultEtcdctl),
    steps: listOf(stepRule(), { minItems: 1, itemName: 'step' }),
  });
  const value = rule(doc.value, [], ctx);
  checkTemplates(doc.value, ctx);
  if (!isInvalid(value)) {
    const v = value as unknown as Omit<Playbook, 'file' | 'steps'> & { steps: Array<StepSpec & { title: string }> };
    for (const check of Object.values(playbookRules)) check(v, (path, message) => ctx.fail(path, message));
  }
  if (ctx.issues.length || isInvalid(value)) throw new InputError(sortIssues(ctx.issues), `${file}: invalid playbook`);
  const v = value as unknown as Omit<Playbook, 'file' | 'steps'> & { steps: Array<StepSpec & { title: string }> };
  const playbook: Playbook = {
    ...v,
    file,
    steps: v.steps.map((s, i) => ({ ...s, at: { file, line: doc.at(['steps', i])?.line } })),
  };
  // Where each field is written, for checks made later against the inventory (not enumerable: plans and journals stay data).
  Object.defineProperty(playbook, 'lineOf', { value: (path: YamlPath) => doc.at(path)?.line, enumerable: false });
  return playbook;
}

/** `{{` syntax everywhere but name/description; references only in the templated fields (see TEMPLATED_FIELDS). */
function checkTemplates(value: unknown, ctx: ValidationContext): void {
  if (!isMapping(value)) return;
  const templated = (path: Array<string | number>): boolean => {
    if (path[0] === 'etcdctl') return true;
    if (path[0] !== 'steps' || typeof path[1] !== 'number' || typeof path[2] !== 'string') return false;
    const step = Array.isArray(value.steps) ? (value.steps[path[1]] as Record<string, unknown> | undefined) : undefined;
    const type = isMapping(step) && typeof step.type === 'string' ? (step.type as StepType) : undefined;
    return Boolean(type && TEMPLATED_FIELDS[type]?.includes(path[2]));
  };
  const walk = (v: unknown, path: Array<string | number>) => {
    if (typeof v === 'string') {
      if (!v.includes('{{')) return;
      if (!templated(path)) {
        ctx.fail(path, `"{{" is only filled in in ${['etcdctl', ...Object.entries(TEMPLATED_FIELDS).filter(([k]) => k !== 'playbook').flatMap(([k, fs]) => fs!.map((f) => `${k}.${f}`))].join(', ')}; here it would stay literal`);
        return;
      }
      for (const problem of templateSyntaxProblems(v)) ctx.fail(path, problem);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (isMapping(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  for (const [k, x] of Object.entries(value)) if (k !== 'name' && k !== 'description') walk(x, [k]);
}

export async function loadPlaybook(file: string): Promise<Playbook> {
  const text = await readInputFile(file, 'playbook', `${file}: invalid playbook`);
  return parsePlaybook(text, file);
}
