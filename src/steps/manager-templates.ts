// Step `manager-templates`: copy the new CA into the Manager's TOS templates/gencerts and raise config.json's "expiry", after a verified backup.
import { HostError, SafetyStop } from '../errors.js';
import type { ManagerTemplatesStep } from '../playbook/types.js';
import type { Action } from '../plan/types.js';
import { Secret } from '../secret.js';
import { rewriteExpiry } from '../manager/config-json.js';
import { backupTemplates, currentSha256, inspectTemplatesBackup, templateBackupMeta, writeTemplateFiles } from '../manager/templates.js';
import { managerTemplatesBackupDir } from '../host-paths.js';
import type { ManagerTemplateFacts } from '../manager/types.js';
import type { ApplyContext, StepModule } from './types.js';
import { change } from './shared.js';
import { sha256 } from '../hash.js';
import { sh } from '../ssh/quote.js';

type BackupAction = Extract<Action, { kind: 'manager-backup' }>;
type FileAction = Extract<Action, { kind: 'manager-file' }>;

const text = (c: string | Secret<string>) => (c instanceof Secret ? c.reveal() : c);

export const managerTemplates: StepModule<ManagerTemplatesStep> = {
  type: 'manager-templates',
  needs: ['distribute'],
  changesLiveState: true,
  usesMaterial: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf(spec.targets);
    if (!ctx.material) return { hosts, actions: [], notes: ['no new CA: the Manager templates stay as they are'] };
    if (!hosts.length) return { hosts, actions: [], notes: ['no Manager host in the inventory: nothing to update'] };
    const unreachable = new Set(ctx.facts.unreachable.map((u) => u.host));
    const actions: Action[] = [];
    const notes: string[] = [];
    const newCa = text(ctx.material.files.ca.content);
    for (const h of hosts) {
      const f = ctx.facts.manager?.templates[h];
      if (!f) {
        if (!unreachable.has(h)) ctx.warn({ level: 'block', code: 'manager-facts-missing', host: h, message: `${h}: the Manager templates were not examined` });
        continue;
      }
      if (f.problem || !f.gencertsDir || !f.ca || !f.config) {
        ctx.warn({ level: 'block', code: 'manager-template-dir', host: h, message: `${h}: ${f.problem ?? 'template directory unknown'}` });
        continue;
      }
      notes.push(`${h}: TOS version ${f.version} (${sourceText(f)}): ${f.gencertsDir}`);
      const files: FileAction[] = [];
      if (f.ca.sha256 === ctx.material.files.ca.sha256) notes.push(`${h}: ${f.ca.path} is already the new CA`);
      else {
        files.push({
          kind: 'manager-file',
          host: h,
          what: 'template-ca',
          path: f.ca.path,
          before: f.ca.sha256 ?? null,
          sha256: ctx.material.files.ca.sha256,
          size: Buffer.byteLength(newCa),
          mode: f.ca.mode ?? f.config.mode ?? 0o644,
          uid: f.ca.uid ?? f.config.uid ?? 0,
          gid: f.ca.gid ?? f.config.gid ?? 0,
        });
      }
      if (!f.config.exists) ctx.warn({ level: 'block', code: 'manager-config-missing', host: h, message: `${h}: ${f.config.path} does not exist; is ${f.gencertsDir} the right template directory? (vars.tosVersion)` });
      else {
        const rw = rewriteExpiry(f.config.content ?? '', spec.expiryFrom, spec.expiry);
        if (rw.originalInvalid) ctx.warn({ level: 'block', code: 'manager-config-invalid', host: h, message: `${h}: ${f.config.path} is not valid JSON (${rw.originalInvalid}); fix it by hand first` });
        else if (rw.invalid) ctx.warn({ level: 'block', code: 'manager-config-invalid', host: h, message: `${h}: changing "expiry" in ${f.config.path} would not give valid JSON (${rw.invalid}); certroll will not write it` });
        else if (rw.changed === 0) notes.push(`${h}: ${f.config.path} has no "expiry": "${spec.expiryFrom}": nothing to change`);
        else {
          files.push({ kind: 'manager-file', host: h, what: 'config-json', path: f.config.path, before: f.config.sha256!, sha256: sha256(rw.text), size: Buffer.byteLength(rw.text), mode: f.config.mode!, uid: f.config.uid!, gid: f.config.gid!, changes: rw.changed });
          notes.push(`${h}: ${f.config.path} diff:`, ...rw.diff.map((d) => `  ${d}`));
        }
        if (rw.others.length) ctx.warn({ level: 'info', code: 'manager-config-other-expiry', host: h, message: `${h}: ${f.config.path} also has "expiry" values ${[...new Set(rw.others)].join(', ')}, left as they are` });
      }
      if (files.length) {
        const dir = managerTemplatesBackupDir(ctx.host(h).vars.certDir, ctx.runId);
        actions.push({ kind: 'manager-backup', host: h, dir, files: [f.ca.path, f.config.path].filter((p) => files.some((x) => x.path === p)) }, ...files);
      }
    }
    return { hosts, actions, notes };
  },
  apply(step, spec, ctx) {
    const backups = step.actions.filter((a): a is BackupAction => a.kind === 'manager-backup');
    return [
      {
        title: 'back up the Manager templates',
        concurrent: true,
        items: backups.map((a) => ({ title: `${a.host}: → ${a.dir}`, host: a.host, run: (report: (m: string) => void) => backupOne(ctx, a, report) })),
      },
      {
        title: 'write the Manager templates',
        concurrent: true,
        items: backups.map((b) => ({
          title: `${b.host}: ${b.files.map((p) => p.split('/').pop()).join(' + ')}`,
          host: b.host,
          run: (report: (m: string) => void) => writeOne(ctx, spec, b.host, step.actions.filter((a): a is FileAction => a.kind === 'manager-file' && a.host === b.host), report),
        })),
      },
    ];
  },
};

function sourceText(f: ManagerTemplateFacts): string {
  switch (f.versionSource) {
    case 'inventory':
      return 'vars.tosVersion';
    case 'single-directory':
      return 'the only version directory';
    case 'registry-image':
      return `registry image tag ${f.registryTag}`;
    default:
      return 'unknown';
  }
}

function factsOf(ctx: ApplyContext, host: string): ManagerTemplateFacts {
  const f = ctx.facts.manager?.templates[host];
  if (!f?.gencertsDir || !f.ca || !f.config) throw new Error(`no Manager template facts for ${host}`);
  return f;
}

async function backupOne(ctx: ApplyContext, a: BackupAction, report: (m: string) => void): Promise<void> {
  const r = ctx.remote(a.host);
  const f = factsOf(ctx, a.host);
  const existing = await inspectTemplatesBackup(r, a.dir);
  if (existing && !existing.verified && (!existing.meta || existing.meta.runId === ctx.runId)) {
    // Half written by this run before a crash (the directory name carries this run id, only this run creates it): redo it.
    await r.sh(sh`rm -rf -- ${a.dir}`);
    report(`a partial backup left by a crash was removed`);
  } else if (existing) {
    // Only this run's own backup can carry its run id: a resumed run keeps it (it holds the files from before the run).
    if (!existing.verified || existing.meta?.runId !== ctx.runId)
      throw new HostError(a.host, 'command', `${a.host}: ${a.dir} exists and is not a verified backup of run ${ctx.runId}: ${existing.problem ?? 'another run'}`, 'inspect it by hand; certroll never overwrites a backup');
    return report(`existing backup kept (${existing.meta.files.length} files verified)`);
  }
  const files = [f.ca!, f.config!].filter((x) => a.files.includes(x.path)).map((fact) => ({ name: fact.path.split('/').pop()!, fact }));
  await change(ctx, a.host, 'manager-templates-backup', a.dir, () => backupTemplates(r, a.dir, templateBackupMeta(ctx.runId, f.gencertsDir!, files)));
  report(`${files.filter((x) => x.fact.exists).length} files copied and verified by sha256`);
}

async function writeOne(ctx: ApplyContext, spec: ManagerTemplatesStep, host: string, acts: FileAction[], report: (m: string) => void): Promise<void> {
  if (!ctx.material) throw new Error('no certificate material');
  const r = ctx.remote(host);
  const f = factsOf(ctx, host);
  const now = await currentSha256(r, acts.map((a) => a.path));
  for (const a of acts) {
    if (now[a.path] !== a.before && now[a.path] !== a.sha256)
      throw new SafetyStop('manager-template-changed', `${host}: ${a.path} changed since the plan was made`, 'run `certroll plan` again and review it; the backup is in place', host);
  }
  const todo: Array<{ a: FileAction; content: string }> = [];
  for (const a of acts) {
    if (now[a.path] === a.sha256) {
      report(`${a.path.split('/').pop()} already written`);
      continue;
    }
    let content: string;
    if (a.what === 'template-ca') content = text(ctx.material.files.ca.content);
    else {
      content = rewriteExpiry(f.config!.content ?? '', spec.expiryFrom, spec.expiry).text;
      JSON.parse(content);
    }
    if (sha256(content) !== a.sha256) throw new Error(`${host}: ${a.path}: the content to write does not match the plan's sha256`);
    todo.push({ a, content });
  }
  if (!todo.length) return;
  // One exec for the files of this host: all written and checked by sha256 before any is renamed into place.
  await change(ctx, host, 'manager-templates', todo.map((x) => x.a.path).join(' '), () =>
    writeTemplateFiles(r, todo.map(({ a, content }) => ({ path: a.path, content, sha256: a.sha256, mode: a.mode, uid: a.uid, gid: a.gid }))),
  );
  for (const { a } of todo) report(`${a.path.split('/').pop()} written and verified`);
}
