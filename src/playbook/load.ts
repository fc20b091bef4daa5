// Load and validate a playbook YAML file: unknown step types and parameters are errors with file and line.
import { InputError } from '../errors.js';
import { parseYaml } from '../yaml/located.js';
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
  type Rule,
} from '../yaml/validate.js';
import { defaultEtcdctl, type Playbook, type StepSpec, type StepType } from './types.js';
import { referencesIn } from './template.js';

const FILE_NAME = /^[A-Za-z0-9._+@%=,-]+$/;
const fileName = () => str({ pattern: FILE_NAME, expected: 'a file name (letters, digits, . _ + @ % = , -), no slashes', maxLength: 255 });
const target = () =>
  str({ pattern: /^(all|[A-Za-z0-9_.-]+|first\([A-Za-z0-9_.-]+\))$/, expected: 'a target: all, a group name, or first(GROUP)', maxLength: 200 });
/** A single target or a list of them. */
const targets = (): Rule<string[]> => (v, path, ctx) => {
  if (typeof v !== 'string') return listOf(target(), { minItems: 1, itemName: 'target' })(v, path, ctx);
  const one = target()(v, path, ctx);
  return isInvalid(one) ? one : [one];
};
const argv = () => listOf(str({ expected: 'a command argument (a string without newlines)', maxLength: 4096 }), { minItems: 1, itemName: 'argument' });
const seconds = (max: number) => int(0, max);

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
    pauseSeconds: withDefault(seconds(3600), 30),
    stopTimeoutSeconds: withDefault(seconds(3600), 120),
    healthTimeoutSeconds: withDefault(seconds(3600), 180),
    maxRaftLag: withDefault(int(0, 1_000_000), 50),
    apiserverCheck: optional(argv()),
  },
  'restart-flannel': {
    on: withDefault(target(), 'first(master)'),
    command: argv(),
    skipIfMissing: optional(str({ pattern: /^[A-Za-z0-9._+-]+$/, expected: 'a program name', maxLength: 200 })),
  },
  verify: { targets: withDefault(targets(), ['etcd', 'master', 'flannel', 'manager']) },
  'manager-templates': {
    targets: withDefault(targets(), ['manager']),
    expiryFrom: withDefault(str({ pattern: /^[0-9]+[hms]$/, expected: 'a cfssl duration in hours like "87600h"', maxLength: 20 }), '87600h'),
    expiry: withDefault(str({ pattern: /^[0-9]+[hms]$/, expected: 'a cfssl duration in hours like "876000h"', maxLength: 20 }), '876000h'),
  },
  'manager-db': {
    on: withDefault(target(), 'first(manager)'),
    table: withDefault(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, expected: "a table name (letters, digits, '_'), at most 30 characters", maxLength: 30 }), 'manager_info'),
  },
};

export const stepTypes = Object.keys(stepShapes) as StepType[];

const TEMPLATE_ROOTS = new Set(['vars', 'host', 'files', 'etcd']);

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
    return { ...(rest as unknown as StepSpec), title: (name as string | undefined) ?? type };
  };
}

/** Validate the text of a playbook (pure: used by tests and by loadPlaybook). */
export function parsePlaybook(text: string, file: string): Playbook {
  const { doc, issues } = parseYaml(text, file);
  if (!doc) throw new InputError(issues, `${file}: not a valid playbook`);
  const ctx = new ValidationContext(doc);
  ctx.issues.push(...issues);
  const rule = object({
    name: str({ maxLength: 200 }),
    description: optional(str({ maxLength: 2000 })),
    files: withDefault(
      object({ ca: withDefault(fileName(), 'etcd-ca.pem'), caKey: withDefault(fileName(), 'etcd-ca-key.pem'), cert: withDefault(fileName(), 'etcd.pem'), key: withDefault(fileName(), 'etcd-key.pem') }),
      { ca: 'etcd-ca.pem', caKey: 'etcd-ca-key.pem', cert: 'etcd.pem', key: 'etcd-key.pem' },
    ),
    etcdctl: withDefault(argv(), defaultEtcdctl),
    steps: listOf(stepRule(), { minItems: 1, itemName: 'step' }),
  });
  const value = rule(doc.value, [], ctx);
  checkTemplates(doc.value, ctx);
  if (ctx.issues.length || isInvalid(value)) throw new InputError(ctx.issues, `${file}: invalid playbook`);
  const v = value as unknown as Omit<Playbook, 'file' | 'steps'> & { steps: Array<StepSpec & { title: string }> };
  return {
    ...v,
    file,
    steps: v.steps.map((s, i) => ({ ...s, at: { file, line: doc.at(['steps', i])?.line } })),
  };
}

function checkTemplates(value: unknown, ctx: ValidationContext): void {
  const walk = (v: unknown, path: Array<string | number>) => {
    if (typeof v === 'string') {
      for (const ref of referencesIn(v)) {
        const root = ref.split('.')[0]!;
        if (!TEMPLATE_ROOTS.has(root)) ctx.fail(path, `{{ ${ref} }}: unknown reference; expected one starting with ${[...TEMPLATE_ROOTS].join(', ')}`);
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (isMapping(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(value, []);
}

export async function loadPlaybook(file: string): Promise<Playbook> {
  const text = await readInputFile(file, 'playbook', `${file}: invalid playbook`);
  return parsePlaybook(text, file);
}
