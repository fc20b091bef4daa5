// Read-only facts about the Manager host for the plan: its TOS template directory (version, etcd-ca.pem, config.json) and a SELECT on manager_info.
import type { Inventory } from '../inventory/types.js';
import type { ManagerDbStep, ManagerTemplatesStep, Playbook } from '../playbook/types.js';
import { HostError } from '../errors.js';
import { quote, quoteArgv, sh, raw } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import { resolveTargets } from '../inventory/targets.js';
import { listVersionsScript, parseVersionListing, chooseVersion, registryPodsArgv, registryTagFrom } from './version.js';
import { factsSql, parseRowFacts, taggedRows } from './sql.js';
import { ManagerDbError, dbErrorHint, dbTarget, managerDbPassword, runSql } from './mysql.js';
import type { ManagerDbErrorCode, ManagerDbFacts, ManagerFacts, ManagerTemplateFacts, TemplateFileFact } from './types.js';

export interface ManagerFactsDeps {
  /** The connected remote of a host, undefined when it could not be reached. */
  remote(name: string): Remote | undefined;
  /** Where the database password variable is read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** The three managed rows of manager_info, named like the playbook's files. */
export const managedKeys = (playbook: Playbook) => [playbook.files.ca, playbook.files.cert, playbook.files.key];

export const gencertsDirOf = (root: string, version: string) => `${root}/${version}/templates/gencerts`;

/** Facts for the playbook's manager-templates and manager-db steps; undefined when it has neither. Never writes. */
export async function gatherManagerFacts(inv: Inventory, playbook: Playbook, deps: ManagerFactsDeps): Promise<ManagerFacts | undefined> {
  const tSteps = playbook.steps.filter((s): s is ManagerTemplatesStep & Playbook['steps'][number] => s.type === 'manager-templates');
  const dbStep = playbook.steps.find((s): s is ManagerDbStep & Playbook['steps'][number] => s.type === 'manager-db');
  if (!tSteps.length && !dbStep) return undefined;
  const out: ManagerFacts = { templates: {} };
  const hosts = resolveTargets(inv, tSteps.flatMap((s) => s.targets));
  let registryTag: string | undefined | null = null; // null: not asked yet
  for (const name of hosts) {
    const r = deps.remote(name);
    if (!r) continue; // unreachable hosts are already blocking warnings
    try {
      out.templates[name] = await templateFacts(inv, playbook, r, name, () => (registryTag === null ? registryImageTag(inv, deps).then((t) => (registryTag = t)) : Promise.resolve(registryTag)));
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      const h = inv.hosts.find((x) => x.name === name)!;
      out.templates[name] = { host: name, root: h.vars.managerTemplateDir, rootExists: false, candidates: [], dirs: [], problem: `the template directory could not be read: ${e.shortMessage}` };
    }
  }
  const db = dbStep ? await gatherDbFacts(inv, playbook, dbStep, deps) : undefined;
  if (db) out.db = db;
  return out;
}

async function templateFacts(inv: Inventory, playbook: Playbook, r: Remote, name: string, tag: () => Promise<string | undefined>): Promise<ManagerTemplateFacts> {
  const h = inv.hosts.find((x) => x.name === name)!;
  const names = [playbook.files.ca, 'config.json'];
  // One exec: the version listing and the template files of every version directory (a few small public files each), so
  // that the chosen version's are at hand whichever it is.
  const out = (await r.sh(`${listVersionsScript(quote(h.vars.managerTemplateDir))}\n${versionFilesScript(names)}`, { timeoutMs: h.ssh.commandTimeout * 1000 })).stdout;
  const listing = parseVersionListing(out);
  const read = parseVersionFiles(h.vars.managerTemplateDir, names, out);
  const registryTag = !h.vars.tosVersion && listing.candidates.length > 1 ? await tag() : undefined;
  const choice = chooseVersion({ root: h.vars.managerTemplateDir, ...listing, ...(h.vars.tosVersion ? { configured: h.vars.tosVersion } : {}), ...(registryTag ? { registryTag } : {}) });
  const f: ManagerTemplateFacts = { host: name, root: h.vars.managerTemplateDir, ...listing, ...(registryTag ? { registryTag } : {}) };
  if (choice.problem || !choice.version) f.problem = choice.problem ?? 'no version';
  else {
    f.version = choice.version;
    f.versionSource = choice.source!;
    f.gencertsDir = gencertsDirOf(f.root, choice.version);
    const files = read.get(choice.version) ?? (await readTemplateFiles(r, f.gencertsDir, names, h.ssh.commandTimeout * 1000));
    f.ca = files[playbook.files.ca]!;
    f.config = files['config.json']!;
  }
  return f;
}

/** The registry image tag from kubectl on the first master; undefined when kubectl is missing or fails (then it is not used). */
async function registryImageTag(inv: Inventory, deps: ManagerFactsDeps): Promise<string | undefined> {
  const r = deps.remote(inv.firstMaster);
  if (!r) return undefined;
  try {
    const res = await r.sh(sh`command -v kubectl >/dev/null 2>&1 || exit 0; ${raw(quoteArgv(registryPodsArgv))}`, { allowFailure: true, timeoutMs: 20_000 });
    return res.exitCode === 0 ? registryTagFrom(res.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** stat, sha256 and content (base64 on the wire) of each file in dir. */
export async function readTemplateFiles(r: Remote, dir: string, names: string[], timeoutMs = 60_000): Promise<Record<string, TemplateFileFact>> {
  const res = await r.sh(sh`G=${dir}\n${raw(templateFilesScript(names))}`, { timeoutMs });
  return parseTemplateFiles(dir, names, res.stdout);
}

/** The lines that print each file of the directory in $G (parseTemplateFiles reads them). */
function templateFilesScript(names: string[]): string {
  return names.map((n) => sh`if [ -f "$G"/${n} ]; then printf '@@file %s %s ' ${n} "$(stat -c '%a %u %g %s' -- "$G"/${n})"; sha256sum < "$G"/${n} | cut -d' ' -f1; base64 < "$G"/${n} | tr -d '\n'; echo; else echo @@missing ${n}; fi`).join('\n');
}

/**
 * After listVersionsScript (which set $root, and ended the script when it is missing): for each version directory with
 * templates/gencerts, a line `@@gencerts <version>`, then its files as readTemplateFiles prints them.
 */
export function versionFilesScript(names: string[]): string {
  return `for G in "$root"/*/templates/gencerts; do
  [ -d "$G" ] || continue
  v=\${G%/templates/gencerts}; v=\${v##*/}
  printf '@@gencerts %s\\n' "$v"
${templateFilesScript(names)}
done`;
}

/** versionFilesScript's output: version → its files (a version whose name holds a newline is left out: read on its own). */
export function parseVersionFiles(root: string, names: string[], stdout: string): Map<string, Record<string, TemplateFileFact>> {
  const out = new Map<string, Record<string, TemplateFileFact>>();
  const chunks = stdout.split(/^@@gencerts /m).slice(1);
  for (const chunk of chunks) {
    const nl = chunk.indexOf('\n');
    const version = chunk.slice(0, nl < 0 ? chunk.length : nl);
    out.set(version, parseTemplateFiles(gencertsDirOf(root, version), names, chunk.slice(nl + 1)));
  }
  return out;
}

export function parseTemplateFiles(dir: string, names: string[], stdout: string): Record<string, TemplateFileFact> {
  const lines = stdout.split('\n');
  const out: Record<string, TemplateFileFact> = {};
  for (const n of names) out[n] = { path: `${dir}/${n}`, exists: false };
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@file (\S+) ([0-7]+) (\d+) (\d+) (\d+) ([0-9a-f]{64})$/.exec(lines[i]!);
    if (!m || !(m[1]! in out)) continue;
    out[m[1]!] = {
      path: `${dir}/${m[1]}`,
      exists: true,
      mode: parseInt(m[2]!, 8),
      uid: Number(m[3]),
      gid: Number(m[4]),
      size: Number(m[5]),
      sha256: m[6]!,
      content: Buffer.from(lines[i + 1] ?? '', 'base64').toString('utf8'),
    };
  }
  return out;
}

async function gatherDbFacts(inv: Inventory, playbook: Playbook, step: ManagerDbStep, deps: ManagerFactsDeps): Promise<ManagerDbFacts | undefined> {
  const hosts = resolveTargets(inv, [step.on]);
  if (!hosts.length) return undefined;
  const base: ManagerDbFacts = { host: hosts[0] ?? step.on, target: '', table: step.table, ok: false, rows: {}, backupTables: [] };
  const fail = (code: ManagerDbErrorCode, message: string): ManagerDbFacts => ({ ...base, error: { code, message } });
  if (hosts.length !== 1) return fail('not-configured', `step manager-db: "${step.on}" must name exactly one host (the Manager host), it names ${hosts.length ? hosts.join(', ') : 'none'}`);
  const h = inv.hosts.find((x) => x.name === hosts[0])!;
  const db = h.vars.managerDb;
  if (!db) return fail('not-configured', `${h.name}: the inventory has no vars.managerDb (host, port, user, database, passwordEnv); ${dbErrorHint('not-configured', undefined, step.table)}`);
  base.target = dbTarget(db);
  const password = managerDbPassword(db, deps.env ?? process.env);
  if (!password) return fail('no-password', `${base.target}: the password variable ${db.passwordEnv} is not set; ${dbErrorHint('no-password', db, step.table)}`);
  const r = deps.remote(h.name);
  if (!r) return fail('ssh', `${h.name}: not reachable, the database ${base.target} could not be checked`);
  try {
    const stdout = await runSql(r, db, password, factsSql(step.table, managedKeys(playbook)), { table: step.table, timeoutMs: h.ssh.commandTimeout * 1000 });
    const found = parseRowFacts(stdout, '@@row');
    const rows: ManagerDbFacts['rows'] = {};
    for (const k of managedKeys(playbook)) rows[k] = found[k] ?? null;
    const engine = taggedRows(stdout, '@@engine')[0]?.[0];
    return { ...base, ok: true, rows, ...(engine ? { engine } : {}), backupTables: taggedRows(stdout, '@@bak').map((x) => x[0]!).sort() };
  } catch (e) {
    if (e instanceof ManagerDbError) return fail(e.code, `${e.shortMessage}; ${e.hint ?? ''}`.replace(/; $/, ''));
    if (e instanceof HostError) return fail('ssh', e.shortMessage);
    throw e;
  }
}
