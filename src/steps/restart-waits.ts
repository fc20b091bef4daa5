// The two waits of a node's restart as one remote shell loop each (a look every 100 ms on the host, one SSH round trip
// per wait), and the pure parsers of what the loops print: the TypeScript side still makes every decision.
import { quote } from '../ssh/quote.js';
import { parseEndpointHealth, parseEndpointStatus } from '../facts/etcd-facts.js';

/** Milliseconds since the epoch on the host: GNU date's %N, or whole seconds where %N is not supported. */
const NOW_MS = `now_ms() { t=$(date +%s%N 2>/dev/null); case $t in ''|*[!0-9]*) t=$(( $(date +%s) * 1000000000 ));; esac; echo $(( t / 1000000 )); }`;

/**
 * One look every 100 ms: `pace $look` (the look's start, from now_ms) sleeps for what is left of the 100 ms after the
 * look's own commands (a container listing, etcdctl), so a stop or a start is seen within 100 ms plus one look, not
 * 100 ms plus the look's time. It prints the dot first (see stopWaitScript). Where %N is missing (whole seconds), the
 * rest is 0 or 100 ms.
 */
const PACE = `pace() { r=$(( $1 + 100 - $(now_ms) )); printf . >&2; if [ $r -gt 0 ]; then sleep 0.$(printf %03d $r); fi; }`;

/**
 * How a container listing is read. `names`: it lists every container (docker ps) and a container runs while its name shows.
 * `ids`: it lists the running containers of one name, one id per line (crictl ps -q --name '^NAME$'); empty when stopped,
 * and a command that fails lists nothing certain (never "stopped").
 */
export type ListingMode = 'names' | 'ids';

/**
 * Wait on the host until none of `names` appears in the output of `check` (a quoted command line; `ids` mode: until it
 * succeeds with an empty listing), or `timeoutSeconds` pass. Prints `@@end <ms> gone|timeout` and the last listing. A dot on
 * stderr per look: when the SSH session is gone, the next write kills the loop (SIGPIPE), so a loop left behind by a
 * dropped connection does not keep polling.
 */
export function stopWaitScript(check: string, names: string[], timeoutSeconds: number, mode: ListingMode = 'names'): string {
  const ns = names.map(quote).join(' ');
  const look =
    mode === 'ids'
      ? [`  running=no; out=$(${check} 2>/dev/null) || { out="(exit $?)"; running=yes; }`, `  case $out in *[![:space:]]*) running=yes;; esac`]
      : [`  out=$(${check} 2>/dev/null); running=no`, `  for n in ${ns}; do case $out in *"$n"*) running=yes;; esac; done`];
  return [
    NOW_MS,
    PACE,
    `start=$(now_ms); deadline=$(( start + ${Math.max(0, Math.ceil(timeoutSeconds * 1000))} ))`,
    `while :; do`,
    `  look=$(now_ms)`,
    ...look,
    `  if [ $running = no ]; then why=gone; break; fi`,
    `  if [ "$(now_ms)" -ge "$deadline" ]; then why=timeout; break; fi`,
    `  pace $look`,
    `done`,
    `echo "@@end $(( $(now_ms) - start )) $why"`,
    `printf '%s\\n' "$out"`,
  ].join('\n');
}

export interface StopWaitResult {
  ms: number;
  why: 'gone' | 'timeout' | 'unknown';
  listing: string;
}

export function parseStopWait(stdout: string): StopWaitResult {
  const m = /^@@end (\d+) (\w+)\n?/m.exec(stdout);
  if (!m) return { ms: 0, why: 'unknown', listing: stdout };
  return { ms: Number(m[1]), why: m[2] === 'gone' || m[2] === 'timeout' ? m[2] : 'unknown', listing: stdout.slice(m.index + m[0].length) };
}

/** Whether the container listing shows none of the names (the judgement the TS side makes on the loop's last listing). */
export const containersGone = (listing: string, names: string[], mode: ListingMode = 'names') => (mode === 'ids' ? !/\S/.test(listing) : !names.some((c) => listing.includes(c)));

/**
 * Each name's token in a container listing, as ContainerWatch reads it: the first line holding the name, in it the word
 * holding the name and ending in `_<restart count>` (a k8s_… docker name) gives `<name>_<count>`, else the name itself;
 * undefined when absent. The loop on the host computes the same tokens with awk.
 */
export function containerTokens(listing: string, names: string[]): Array<string | undefined> {
  const lines = listing.split('\n');
  return names.map((name) => {
    const line = lines.find((l) => l.includes(name));
    if (line === undefined) return undefined;
    const count = /_(\d+)$/.exec(line.trim().split(/\s+/).find((w) => w.includes(name) && /_\d+$/.test(w)) ?? '')?.[1];
    return count !== undefined ? `${name}_${count}` : name;
  });
}

export interface HealthWaitInput {
  /**
   * Quoted command lines: the member's own endpoint health (JSON) and every endpoint's status (JSON) — absent for a pod
   * that is not etcd: then the `api` command alone says healthy —, the apiserver (or pod health) check, the container listing.
   */
  ownHealth?: string;
  status?: string;
  api: string;
  check: string;
  names: string[];
  timeoutSeconds: number;
  /** Each name's token as last seen by the TS side (undefined: never seen), so that a loop run again keeps the history. */
  seen: Array<string | undefined>;
  /** Milliseconds since an exit was seen while unhealthy (by an earlier loop), or undefined. */
  exitAgoMs?: number;
  /** How long the member may stay unhealthy after a container exit before the loop ends (the TS side judges it). */
  exitGraceMs: number;
  /** How `check` lists containers (default `names`); in `ids` mode a name's token is its running container's id. */
  mode?: ListingMode;
  /** `ids` mode: the container ids from before the restart; healthy needs a running id not among them. */
  before?: string[];
}

/**
 * Wait on the host until the member is healthy and the apiserver check passes, a container exit has been followed by
 * `exitGraceMs` of an unhealthy member, or the timeout. Prints one `@@ps <ms> <healthy 0|1> <token>…` line per change in
 * the container tokens (`-` absent), then `@@end <ms> healthy|exited|timeout <exit ms or -1>`, and the last probe:
 * `@@health`, `@@status` (only once the member is healthy), `@@api <exit code>`.
 */
export function healthWaitScript(i: HealthWaitInput): string {
  const ns = i.names.map(quote).join(' ');
  // '.' = never seen; a token never contains a space (a word of the listing).
  const seen = i.seen.map((t) => (t === undefined ? '.' : t)).join(' ');
  const awk = quote('index($0, n) { for (i = 1; i <= NF; i++) if (index($i, n) && match($i, /_[0-9]+$/)) { print n substr($i, RSTART); exit } print n; exit }');
  const ids = i.mode === 'ids';
  // ids mode: the token is the first id listed; healthy needs it to be none of the ids from before the restart.
  const token = ids ? `t=$(printf '%s\\n' "$ps" | awk 'NF { print $1; exit }'); [ -n "$t" ] || t=-` : `t=$(printf '%s\\n' "$ps" | awk -v n="$n" ${awk}); [ -n "$t" ] || t=-`;
  const fresh = ids ? [`  fresh=0; case "$cur" in -|'') ;; *) case ${quote(` ${(i.before ?? []).join(' ')} `)} in *" $cur "*) ;; *) fresh=1;; esac;; esac`] : [];
  const probe = i.ownHealth
    ? [`  h=$(${i.ownHealth} 2>/dev/null); ps=$(${i.check} 2>/dev/null); now=$(now_ms)`, `  case $h in *'"health":true'*) ok=1;; *) ok=0;; esac`]
    : [`  h=''; ps=$(${i.check} 2>/dev/null); ${i.api} >/dev/null 2>&1; api=$?; now=$(now_ms)`, `  if [ $api = 0 ]; then ok=1; else ok=0; fi`];
  const whenOk = i.ownHealth ? [`    st=$(${i.status ?? 'true'} 2>/dev/null); ${i.api} >/dev/null 2>&1; api=$?`] : [`    st=''`];
  return [
    NOW_MS,
    PACE,
    `start=$(now_ms); deadline=$(( start + ${Math.max(0, Math.ceil(i.timeoutSeconds * 1000))} ))`,
    `exit_at=${i.exitAgoMs === undefined ? -1 : `$(( start - ${Math.max(0, Math.round(i.exitAgoMs))} ))`}`,
    `prev=${quote(seen)}; printed=''; st=''; api=1${ids ? '; fresh=0; cur=-' : ''}`,
    `while :; do`,
    `  look=$(now_ms)`,
    ...probe,
    `  cur=''; next=''; exited=no; set -- $prev`,
    `  for n in ${ns}; do`,
    `    ${token}`,
    `    p=$1; shift`,
    `    case $p in .) ;; *) [ "$t" = "$p" ] || exited=yes;; esac`,
    `    cur="$cur $t"; if [ "$t" = - ]; then next="$next $p"; else next="$next $t"; fi`,
    `  done`,
    `  prev=\${next# }; cur=\${cur# }`,
    ...fresh,
    `  if [ "$cur" != "$printed" ]; then echo "@@ps $(( now - start )) $ok $cur"; printed=$cur; fi`,
    `  if [ $ok = 1 ]; then`,
    ...whenOk,
    `    if [ $api = 0 ]${ids ? ' && [ $fresh = 1 ]' : ''}; then why=healthy; break; fi`,
    `  else`,
    `    st=''; api=1`,
    `    if [ $exited = yes ] && [ $exit_at -lt 0 ]; then exit_at=$now; fi`,
    `    if [ $exit_at -ge 0 ] && [ $(( now - exit_at )) -ge ${i.exitGraceMs} ]; then why=exited; break; fi`,
    `  fi`,
    `  if [ "$(now_ms)" -ge "$deadline" ]; then why=timeout; break; fi`,
    `  pace $look`,
    `done`,
    `end=$(now_ms); if [ $exit_at -ge 0 ]; then ex=$(( exit_at - start )); else ex=-1; fi`,
    `echo "@@end $(( end - start )) $why $ex"`,
    `echo '@@health'; printf '%s\\n' "$h"`,
    `echo '@@status'; printf '%s\\n' "$st"`,
    `echo "@@api $api"`,
    ...(ids ? [`echo "@@cur $cur $fresh"`] : []),
  ].join('\n');
}

export interface HealthWaitResult {
  /** Container token changes in order, with the time since the loop started and whether the member was healthy then. */
  ps: Array<{ ms: number; healthy: boolean; tokens: Array<string | undefined> }>;
  ms: number;
  why: 'healthy' | 'exited' | 'timeout' | 'unknown';
  /** When the host saw an exit while unhealthy (ms since the loop started; negative: before it), or undefined. */
  exitMs?: number;
  health: string;
  status: string;
  apiOk: boolean;
  /** `ids` mode: the running container id at the last look (undefined: none) and whether it is new. */
  current?: { id?: string; fresh: boolean };
}

export function parseHealthWait(stdout: string, names: string[]): HealthWaitResult {
  const ps: HealthWaitResult['ps'] = [];
  for (const m of stdout.matchAll(/^@@ps (\d+) ([01]) ?(.*)$/gm)) {
    const words = m[3]!.split(' ');
    ps.push({ ms: Number(m[1]), healthy: m[2] === '1', tokens: names.map((_, k) => (words[k] === undefined || words[k] === '-' || words[k] === '' ? undefined : words[k])) });
  }
  const end = /^@@end (\d+) (\w+) (-?\d+)$/m.exec(stdout);
  const between = (a: string, b: string) => {
    const i = stdout.indexOf(`${a}\n`);
    const j = stdout.indexOf(b, i + 1);
    return i < 0 || j < 0 ? '' : stdout.slice(i + a.length + 1, j).trim();
  };
  const why = end?.[2];
  const exitMs = end && Number(end[3]) !== -1 ? Number(end[3]) : undefined;
  const cur = /^@@cur (\S*) ([01])$/m.exec(stdout);
  return {
    ps,
    ms: end ? Number(end[1]) : 0,
    why: why === 'healthy' || why === 'exited' || why === 'timeout' ? why : 'unknown',
    ...(exitMs !== undefined ? { exitMs } : {}),
    health: between('@@health', '@@status'),
    status: between('@@status', '@@api'),
    apiOk: /^@@api 0$/m.test(stdout),
    ...(cur ? { current: { ...(cur[1] !== '-' && cur[1] !== '' ? { id: cur[1] } : {}), fresh: cur[2] === '1' } } : {}),
  };
}

/**
 * The health criteria after a restart, on one probe: the member's own endpoint healthy, a leader visible, this member's
 * raft index within maxRaftLag of the leader's, the apiserver check passing. `last` says what is missing.
 */
export function judgeHealth(p: { health: string; status: string; apiOk: boolean }, own: string, maxRaftLag: number): { ok: boolean; healthy: boolean; last: string } {
  let health, status;
  try {
    health = parseEndpointHealth(p.health);
    status = parseEndpointStatus(p.status);
  } catch {
    return { ok: false, healthy: false, last: 'etcdctl output unreadable' };
  }
  if (!health[0]?.healthy) return { ok: false, healthy: false, last: `etcd member not healthy${health[0]?.error ? `: ${health[0].error}` : ''}` };
  const mine = status.find((s) => s.endpoint === own);
  const leader = status.find((s) => s.memberId && s.memberId === s.leaderId);
  if (!mine || !leader) return { ok: false, healthy: true, last: 'no leader visible from this node' };
  const lag = leader.raftIndex - mine.raftIndex;
  if (lag > maxRaftLag) return { ok: false, healthy: true, last: `raft index ${lag} behind the leader` };
  if (!p.apiOk) return { ok: false, healthy: true, last: 'apiserver check not passing' };
  return { ok: true, healthy: true, last: 'healthy' };
}

/**
 * The health criteria of a pod that is not etcd (kubeadm's apiserver, controller-manager, scheduler), on one probe: its
 * health commands pass and a container other than the one from before the restart is running.
 */
export function judgePodHealth(p: { apiOk: boolean; current?: { id?: string; fresh: boolean } }): { ok: boolean; healthy: boolean; last: string } {
  if (!p.current?.id) return { ok: false, healthy: false, last: 'no container running' };
  if (!p.current.fresh) return { ok: false, healthy: p.apiOk, last: `container ${p.current.id.slice(0, 13)} is the one from before the restart` };
  if (!p.apiOk) return { ok: false, healthy: false, last: 'health check not passing' };
  return { ok: true, healthy: true, last: 'healthy' };
}
