// `certroll status` for a terminal: one screen — lock, parked members, certificate versions, backups, etcd, the next command.
import type { Palette } from '../render/text.js';
import { formatAge } from './verdict.js';
import type { CertRole, StatusReport } from './types.js';

const short = (id: string) => (id === 'absent' ? 'absent' : id.startsWith('sha256:') ? `file ${id.slice(7, 19)}… (not a certificate)` : `${id.replace(/:/g, '').slice(0, 12).toLowerCase()}…`);
const day = (iso?: string) => (iso ? iso.slice(0, 10) : '?');

function expiresIn(iso: string | undefined, now: string): string {
  if (!iso) return '';
  const days = Math.floor((Date.parse(iso) - Date.parse(now)) / 86_400_000);
  return days < 0 ? ' (expired)' : days <= 90 ? ` (in ${days} days)` : '';
}

function certLines(c: CertRole, p: Palette, now: string): string[] {
  const label = c.role === 'ca' ? 'CA' : 'Certificate';
  const out = [`${label.padEnd(12)}${c.file}: ${c.versions.length === 1 ? 'one version on every host read' : p.yellow(`${c.versions.length} versions`)}`];
  for (const v of c.versions) {
    const hosts = v.hosts.map((h) => (h === c.firstMaster.host ? `${h} (first master)` : h));
    const extra = v.managerTemplates?.length ? `; Manager templates on ${v.managerTemplates.join(', ')}` : '';
    const tag = v.newest ? p.green('newest') : v.id === 'absent' ? p.red('missing') : p.yellow('older ');
    out.push(`${''.padEnd(14)}${tag}  ${short(v.id)}  not after ${day(v.notAfter)}${expiresIn(v.notAfter, now)}  ${hosts.join(', ') || '(no host)'}${extra}`);
  }
  return out;
}

export function renderStatus(r: StatusReport, p: Palette): string {
  const out: string[] = [];
  const pad = (s: string) => s.padEnd(12);
  out.push(p.bold(`certroll status: ${r.inventory} (${r.hosts.length} hosts), playbook ${r.playbook}`));
  out.push('');
  if (!r.locks.length) out.push(`${pad('Lock')}none`);
  for (const l of r.locks) {
    if (l.unreadable) {
      out.push(`${pad('Lock')}${p.red(`unreadable owner file (${l.unreadable})`)} on ${l.hosts.join(', ')}`);
      continue;
    }
    const who = [l.controlHost ? `machine ${l.controlHost}` : 'machine ?', `user ${l.user ?? '?'}`, `pid ${l.pid ?? '?'}`, formatAge(l.ageSeconds), ...(l.step ? [`step "${l.step}"`] : [])].join(', ');
    const alive = l.alive === true ? p.yellow(' — running now') : l.alive === false ? p.red(' — process gone') : '';
    out.push(`${pad('Lock')}${l.kind} ${p.bold(l.runId)}${l.rollbackOf ? ` (rollback of ${l.rollbackOf})` : ''} (${who})${alive}`);
    out.push(`${pad('')}on ${l.hosts.join(', ')}; journal ${l.journalHere ? 'on this machine' : 'not on this machine'}`);
  }
  if (!r.parked.length) out.push(`${pad('Parked')}none: every member's manifests are in place`);
  for (const m of r.parked) {
    const why = m.marker ? `marker of run ${m.marker.runId}, parked ${m.marker.parkedAt}${m.marker.sha256Matches ? '' : p.red(', sha256 differs from the marker')}` : m.markerProblem ? p.red(`marker unreadable: ${m.markerProblem}`) : p.red('no certroll marker');
    out.push(`${pad('Parked')}${p.red(`${m.host}: ${m.path}`)} (belongs in ${m.home}; ${why})`);
  }
  for (const s of r.staleMarkers) out.push(`${pad('')}${s.host}: leftover marker ${s.file}${s.runId ? ` of run ${s.runId}` : ''}`);
  for (const c of r.certificates) out.push(...certLines(c, p, r.generatedAt));
  if (!r.backups.length) out.push(`${pad('Backups')}none`);
  r.backups.forEach((b, i) => {
    const ok = b.verified ? p.green('verified') : p.red(`NOT verified on ${b.hosts.filter((h) => h.certroll && !h.verified).map((h) => h.host).join(', ')}`);
    const foreign = b.hosts.filter((h) => !h.certroll).length;
    out.push(`${pad(i === 0 ? 'Backups' : '')}run ${b.runId}: ${b.hosts.length} host${b.hosts.length === 1 ? '' : 's'}, ${ok}${foreign ? `, ${foreign} without certroll metadata` : ''}; journal: ${b.journal}`);
  });
  for (const f of r.backupFailures) out.push(`${pad('')}${p.red(`${f.host}: not listed: ${f.message}`)}`);
  if (r.etcd) {
    const e = r.etcd;
    const head = e.healthy === e.total && !e.error ? p.green(`${e.healthy}/${e.total} healthy`) : p.red(`${e.healthy}/${e.total} healthy`);
    out.push(`${pad('etcd')}${head}${e.leader ? `, leader ${e.leader}` : ''} (asked ${e.queriedFrom ?? '?'})`);
    for (const u of e.unhealthy) out.push(`${pad('')}${p.red(`${u.endpoint}${u.error ? `: ${u.error}` : ''}`)}`);
    if (e.error && !e.unhealthy.length) out.push(`${pad('')}${p.red(e.error.split('\n')[0]!)}`);
  } else out.push(`${pad('etcd')}not read (no etcd host reachable)`);
  r.targetState.forEach((t, i) => out.push(`${pad(i === 0 ? 'Unfinished' : '')}${p.yellow(t)}`));
  for (const u of r.unreachable) out.push(`${pad('Unreachable')}${p.red(`${u.host}: ${u.message}`)}`);
  for (const u of r.unfinishedRuns) out.push(`${pad('Journal')}run ${u.runId}: ${u.state}${u.stoppedAt ? ` at ${u.stoppedAt}` : ''} (${u.journal})`);
  out.push('');
  if (r.state === 'clean') out.push(p.green(`Next: ${r.next.why}`));
  else {
    out.push(p.bold(`Next: ${r.next.command ?? 'by hand'}`));
    out.push(`      ${r.next.why}`);
    for (const m of r.next.manual ?? []) out.push(`      ${m}`);
    if (r.next.alternative) out.push(p.dim(`      (to undo the run instead: ${r.next.alternative})`));
  }
  return out.join('\n');
}
