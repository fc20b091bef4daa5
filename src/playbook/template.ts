// {{ ... }} references in playbook values, resolved per host against the inventory; a reference to nothing is an error.

export type Scope = Record<string, unknown>;

const REF = /\{\{\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}/g;

export class TemplateError extends Error {
  override name = 'TemplateError';
}

function lookup(scope: Scope, path: string): unknown {
  let cur: unknown = scope;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Replace every {{ path }} in `text`; arrays join with commas. Throws TemplateError naming the unknown reference. */
export function renderTemplate(text: string, scope: Scope): string {
  return text.replace(REF, (_, path: string) => {
    const v = lookup(scope, path);
    if (v === undefined || v === null) throw new TemplateError(`{{ ${path} }} refers to nothing (known: ${Object.keys(scope).join(', ')})`);
    if (Array.isArray(v)) return v.join(',');
    if (typeof v === 'object') throw new TemplateError(`{{ ${path} }} is an object, not a value`);
    return String(v);
  });
}

export function renderArgv(argv: readonly string[], scope: Scope): string[] {
  return argv.map((a) => renderTemplate(a, scope));
}

/** Every reference used in a text, for validation at load time. */
export function referencesIn(text: string): string[] {
  return [...text.matchAll(REF)].map((m) => m[1]!);
}
