// Selects hosts with an Ansible-like --limit pattern (names, groups, globs, `!` exclusion, `&` intersection) and reads groups.
import { InputError } from '../errors.js';
import { didYouMean, quoted } from '../yaml/validate.js';
import type { Host, Inventory } from './types.js';

/** Hosts of a group, in the group's order; an unknown group is a bug in the caller (validate group names first). */
export function hostsOf(inv: Inventory, group: string): Host[] {
  const names = inv.groups[group];
  if (!names) throw new Error(`inventory ${inv.file} has no group "${group}"`);
  return names.map((n) => hostByName(inv, n));
}

/** The first host of a group (for `master`: where certificates are generated), or undefined when the group is empty. */
export function firstOf(inv: Inventory, group: string): Host | undefined {
  const name = inv.groups[group]?.[0];
  return name === undefined ? undefined : hostByName(inv, name);
}

/** The host with this inventory name; throws if there is none (a bug in the caller). */
export function hostByName(inv: Inventory, name: string): Host {
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`inventory ${inv.file} has no host "${name}"`);
  return h;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Host names matched by one term: `all`, a host name, a group name, or a glob over host and group names. */
function matchTerm(inv: Inventory, term: string): Set<string> {
  const out = new Set<string>();
  if (term === 'all' || term === '*') {
    for (const h of inv.hosts) out.add(h.name);
    return out;
  }
  const re = /[*?]/.test(term) ? globToRegExp(term) : undefined;
  const matches = (s: string): boolean => (re ? re.test(s) : s === term);
  for (const h of inv.hosts) if (matches(h.name)) out.add(h.name);
  for (const [g, members] of Object.entries(inv.groups)) if (matches(g)) for (const m of members) out.add(m);
  return out;
}

/**
 * Hosts selected by an Ansible-style pattern, in inventory order. No pattern (undefined, or `all`) selects every host; a blank one is an error.
 * Terms are separated by `,` or `:`; `!term` excludes, `&term` intersects; plain terms are united first, then
 * intersections apply, then exclusions (as in Ansible); with only `!`/`&` terms, `all` is implied.
 * A term that matches nothing is an error (a mistyped `!host` would otherwise widen the run), as is an empty result.
 */
export function selectHosts(inv: Inventory, pattern?: string): Host[] {
  if (pattern === undefined) return [...inv.hosts];
  const issue = (message: string) => new InputError([{ file: inv.file, path: '--limit', message }], 'Invalid --limit:');
  const terms = pattern
    .split(/[,:]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  // An empty limit must never widen the run to every host.
  if (terms.length === 0) throw issue(`${quoted(pattern)} names no host or group (leave --limit out to select every host)`);
  const candidates = [...inv.hosts.map((h) => h.name), ...Object.keys(inv.groups), 'all'];

  const plain: Set<string>[] = [];
  const intersect: Set<string>[] = [];
  const exclude: Set<string>[] = [];
  const problems: string[] = [];
  for (const t of terms) {
    const op = t[0] === '!' || t[0] === '&' ? t[0] : '';
    const body = op ? t.slice(1).trim() : t;
    if (body === '' || !/^[A-Za-z0-9_.*?-]+$/.test(body)) {
      problems.push(`bad term ${quoted(t)}: expected a host name, group name or glob (* ?), optionally after ! or &`);
      continue;
    }
    const set = matchTerm(inv, body);
    if (set.size === 0) {
      problems.push(`${quoted(body)} matches no host or group${body.length <= 200 ? didYouMean(body, candidates) : ''}`);
      continue;
    }
    (op === '!' ? exclude : op === '&' ? intersect : plain).push(set);
  }
  if (problems.length > 0)
    throw new InputError(
      problems.map((message) => ({ file: inv.file, path: '--limit', message })),
      'Invalid --limit:',
    );

  let selected = new Set<string>();
  if (plain.length === 0) selected = matchTerm(inv, 'all');
  else for (const s of plain) for (const n of s) selected.add(n);
  for (const s of intersect) selected = new Set([...selected].filter((n) => s.has(n)));
  for (const s of exclude) for (const n of s) selected.delete(n);

  const hosts = inv.hosts.filter((h) => selected.has(h.name));
  if (hosts.length === 0) throw issue(`${quoted(pattern)} selects no hosts`);
  return hosts;
}
