// {{ ... }} references in playbook values, resolved per host against the inventory; a reference to nothing is an error.
// The syntax is a plain dotted path and nothing else (no expressions, no filters); every reference is resolved for every
// host at load time (src/run/inputs.ts), so rendering after planning cannot fail.

export type Scope = Record<string, unknown>;

const REF = /\{\{\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}/g;
const REF_AT = /\{\{\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}/y;

/** The roots a reference may start with. */
export const TEMPLATE_ROOTS = ['vars', 'host', 'files', 'etcd'] as const;

/** Every path under host/files/etcd (vars.* depends on the inventory and is resolved per host). */
export const FIXED_REFERENCES = [
  'host.name',
  'host.hostname',
  'host.address',
  'host.ip',
  'files.ca',
  'files.caKey',
  'files.cert',
  'files.key',
  'etcd.endpoints',
] as const;

export class TemplateError extends Error {
  override name = 'TemplateError';
}

const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** A name that would reach JavaScript's object machinery instead of data (`constructor`, `__proto__`, `toString`…). */
export function isPrototypeName(part: string): boolean {
  return part === 'prototype' || part === '__proto__' || part in Object.prototype;
}

/**
 * The problems of a text's `{{ }}` syntax, one message each: an unclosed `{{`, an expression or a filter inside it, a
 * prototype name, a root other than vars/host/files/etcd, an unknown host/files/etcd field. Empty when every `{{` starts
 * a plain reference. A lone `}}` is left alone (shell and awk use braces).
 */
export function templateSyntaxProblems(text: string): string[] {
  const problems: string[] = [];
  let i = text.indexOf('{{');
  while (i >= 0) {
    REF_AT.lastIndex = i;
    const m = REF_AT.exec(text);
    if (!m) {
      const close = text.indexOf('}}', i + 2);
      if (close < 0) problems.push(`unclosed "{{" in ${JSON.stringify(clip(text))}: a reference is written {{ root.name }}`);
      else {
        const inner = text.slice(i + 2, close).trim();
        const what = inner === '' ? 'an empty {{ }}' : inner.includes('|') ? `a filter in {{ ${clip(inner, 40)} }}` : `{{ ${clip(inner, 40)} }}: an expression, not a plain reference`;
        problems.push(`${what}: only plain references like {{ vars.certDir }} or {{ host.ip }} are filled in (no expressions, filters or literal "{{")`);
      }
      i = text.indexOf('{{', close < 0 ? i + 2 : close + 2);
      continue;
    }
    const path = m[1]!;
    const parts = path.split('.');
    if (parts.some(isPrototypeName)) problems.push(`{{ ${clip(path, 60)} }}: "${parts.find(isPrototypeName)}" is not a field name`);
    else if (!(TEMPLATE_ROOTS as readonly string[]).includes(parts[0]!))
      problems.push(`{{ ${clip(path, 60)} }}: unknown reference; expected one starting with ${TEMPLATE_ROOTS.join(', ')}`);
    else if (parts[0] !== 'vars' && !(FIXED_REFERENCES as readonly string[]).includes(path))
      problems.push(`{{ ${clip(path, 60)} }}: unknown reference; ${parts[0]} has ${FIXED_REFERENCES.filter((r) => r.startsWith(`${parts[0]}.`)).join(', ')}`);
    else if (parts[0] === 'vars' && parts.length < 2) problems.push('{{ vars }}: name a variable, e.g. {{ vars.certDir }}');
    i = text.indexOf('{{', i + m[0].length);
  }
  return problems;
}

export type Resolved = { ok: true; text: string } | { ok: false; problem: string };

/** The value of one reference in a scope, as the text it renders to, or why it has none (own properties only). */
export function resolveReference(scope: Scope, path: string): Resolved {
  let cur: unknown = scope;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || isPrototypeName(part) || !Object.hasOwn(cur, part))
      return { ok: false, problem: `{{ ${path} }} refers to nothing` };
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return { ok: false, problem: `{{ ${path} }} is not set` };
  if (Array.isArray(cur)) {
    if (cur.some((x) => x === null || typeof x === 'object')) return { ok: false, problem: `{{ ${path} }} is a list of mappings, not a value` };
    return { ok: true, text: cur.join(',') };
  }
  if (typeof cur === 'object') return { ok: false, problem: `{{ ${path} }} is a mapping, not a value (name one of its fields: ${Object.keys(cur).join(', ')})` };
  return { ok: true, text: String(cur) };
}

/** Replace every {{ path }} in `text`; lists join with commas. Throws TemplateError naming the unknown reference. */
export function renderTemplate(text: string, scope: Scope): string {
  const syntax = templateSyntaxProblems(text);
  if (syntax.length) throw new TemplateError(syntax[0]!);
  return text.replace(REF, (_, path: string) => {
    const r = resolveReference(scope, path);
    if (!r.ok) throw new TemplateError(r.problem);
    return r.text;
  });
}

export function renderArgv(argv: readonly string[], scope: Scope): string[] {
  return argv.map((a) => renderTemplate(a, scope));
}

/** Every reference used in a text, for validation at load time. */
export function referencesIn(text: string): string[] {
  return [...text.matchAll(REF)].map((m) => m[1]!);
}

/** Every problem of rendering `text` with `scope` (syntax first, then each reference); empty when it renders. */
export function templateProblems(text: string, scope: Scope): string[] {
  const syntax = templateSyntaxProblems(text);
  if (syntax.length) return syntax;
  return referencesIn(text).flatMap((path) => {
    const r = resolveReference(scope, path);
    return r.ok ? [] : [r.problem];
  });
}
