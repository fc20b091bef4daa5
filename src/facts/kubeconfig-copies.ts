// The read-only fact of `refresh-kube-config`: on a control-plane node, admin.conf's client certificate and every file of
// the .kube directories of root and the inventory's SSH users, each with the sha256 of its embedded client certificate's DER.
//
// What crosses the wire, by construction: file names, sizes, modes, owners, the sha256 of whole files, counts of keys, and
// the sha256 of each certificate's DER, computed on the host (base64 -d, the first CERTIFICATE block, base64 -d, sha256sum).
// The awk program reads only `client-certificate-data` lines' values, and hands them to the shell, which prints their hash:
// no line of a kubeconfig, and so no client-key-data, token or password, is ever printed.
import { quote } from '../ssh/quote.js';
import { backupDirOf } from '../host-paths.js';
import { HostError } from '../errors.js';
import { resolveTargets } from '../inventory/targets.js';
import type { Host, Inventory } from '../inventory/types.js';
import type { Playbook, RefreshKubeConfigStep } from '../playbook/types.js';
import type { Remote } from '../ssh/remote.js';
import type { FileRecord } from '../file-record.js';

/** Version of the line protocol below; the parser refuses output of another version. */
export const COPIES_PROTOCOL = 'certroll-kubeconfig-copies 1';

/** Files bigger than this are listed, not read (a kubeconfig is a few KiB). */
export const COPY_MAX_BYTES = 1024 * 1024;

export interface KubeconfigCopiesQuery {
  /** The kubeconfig whose copies are looked for (kubeadm: /etc/kubernetes/admin.conf). */
  adminConf: string;
  /** Users whose home's `.kube` is searched (root's is always: /root/.kube and root's home). */
  users: string[];
  /** Directories searched whatever the homes are (default /root/.kube). */
  alwaysDirs?: string[];
  /** Read homes from this passwd-format file instead of the host's passwd database (tests). */
  passwdFile?: string;
}

/** Key counts of one file, read on the host (block or flow style alike). */
export interface KeyCounts {
  /** `client-certificate-data` anywhere in the file. */
  anyCert: number;
  /** `client-certificate-data:` lines in block style (the ones whose certificate the host hashed). */
  blockCert: number;
  /** `server:` keys (one per cluster). */
  servers: number;
  /** token, tokenFile, exec, auth-provider, username, password, client-certificate, client-key keys. */
  otherCredentials: number;
  /** `name:` keys (admin.conf as kubeadm writes it has 3: its cluster, context and user). */
  names: number;
}

/** One embedded client certificate: its line and the sha256 of its DER; null when it could not be decoded. */
export interface CertHash {
  line: number;
  sha256: string | null;
}

/** A FileRecord whose sha256 is '' for links and big files (not read). */
export interface KubeconfigFileFact extends FileRecord {
  /** `file`: a regular file, read; `link`: a symbolic link (not followed); `big`: over COPY_MAX_BYTES, not read. */
  kind: 'file' | 'link' | 'big';
  linkTarget?: string;
  certs: CertHash[];
  counts: KeyCounts;
}

export interface KubeconfigCopiesFacts {
  host: string;
  adminConf: {
    path: string;
    /** `file`, `missing`, or `other` (a directory, a link…). */
    state: 'file' | 'missing' | 'other';
    sha256?: string;
    /** sha256 of its client certificate's DER; null when it has none that could be read. */
    certSha256: string | null;
    counts?: KeyCounts;
  };
  /** admin.conf as kept in certroll's backups beside its directory (`/etc/kubernetes-bak-<run>/admin.conf`). */
  earlier: Array<{ path: string; certSha256: string | null }>;
  /** Each user's home as the host's passwd database says; null when the user has no account there. */
  homes: Array<{ user: string; home: string | null }>;
  /** The .kube directories searched, and whether each exists. */
  dirs: Array<{ path: string; exists: boolean }>;
  files: KubeconfigFileFact[];
  /** Why the scan failed on this host (the other fields are then empty). */
  error?: string;
}

const dirname = (p: string) => p.replace(/\/[^/]*$/, '') || '/';
const basename = (p: string) => p.replace(/^.*\//, '');

/**
 * The awk program: counts keys and, for each block-style `client-certificate-data:` line, prints `V<TAB>line<TAB>value`
 * for the shell function below (which replaces the value by its hash); last, `N<TAB>counts`. Nothing else of the file.
 */
const SCAN_AWK = String.raw`
function cnt(re,   s) { s = $0; return gsub(re, "", s) }
{
  sub(/\r$/, "")
  any += cnt("client-certificate-data")
  srv += cnt("(^|[^A-Za-z0-9_-])[\"']?server[\"']?[ \t]*:")
  oth += cnt("(^|[^A-Za-z0-9_-])[\"']?(token|tokenFile|exec|auth-provider|username|password|client-certificate|client-key)[\"']?[ \t]*:")
  nam += cnt("(^|[^A-Za-z0-9_-])[\"']?name[\"']?[ \t]*:")
  if ($0 ~ /^[ \t]*(- )?[ \t]*["']?client-certificate-data["']?[ \t]*:/) {
    v = $0
    sub(/^[^:]*:[ \t]*/, "", v)
    sub(/[ \t]+#.*$/, "", v)
    sub(/[ \t]+$/, "", v)
    if (v ~ /^".*"$/ || v ~ /^'.*'$/) v = substr(v, 2, length(v) - 2)
    blk++
    print "V\t" NR "\t" v
  }
}
END { print "N\t" (any + 0) "\t" (blk + 0) "\t" (srv + 0) "\t" (oth + 0) "\t" (nam + 0) }`;

/** The first CERTIFICATE block's base64 body of a PEM on stdin, printed only when whole and clean. */
const FIRST_CERT_AWK = String.raw`
/^-----BEGIN CERTIFICATE-----/ && !on { on = 1; next }
on && /^-----END CERTIFICATE-----/ { ok = 1; exit }
on { if ($0 !~ /^[A-Za-z0-9+\/=]*$/) exit; b = b $0 }
END { if (ok && b != "" && length(b) % 4 == 0) print b }`;

/**
 * Shell functions (POSIX sh) shared with the step's apply half: `kc_dersha B64` prints the sha256 of the DER of the first
 * certificate of a base64-encoded PEM, or `bad`; `kc_scan FILE PREFIX` prints `<PREFIX>cert<TAB>FILE<TAB>line<TAB>sha`
 * per block-style client-certificate-data line, then `<PREFIX>count<TAB>FILE<TAB>counts`. Sets LC_ALL=C and T (a tab).
 */
export const CERT_SHA_SHELL = [
  'LC_ALL=C; export LC_ALL',
  `T=$(printf '\\t')`,
  `SCAN=${quote(SCAN_AWK)}`,
  `FIRST=${quote(FIRST_CERT_AWK)}`,
  `kc_dersha() {`,
  `  printf '%s' "$1" | grep -qE '^[A-Za-z0-9+/]+={0,2}$' || { echo bad; return; }`,
  `  b=$(printf '%s' "$1" | base64 -d 2>/dev/null | tr -d '\\r' | awk "$FIRST")`,
  `  [ -n "$b" ] || { echo bad; return; }`,
  `  printf '%s' "$b" | base64 -d 2>/dev/null | sha256sum | cut -d' ' -f1`,
  `}`,
  `kc_scan() {`,
  `  awk "$SCAN" "$1" 2>/dev/null | while IFS="$T" read -r t a b c d e; do`,
  `    case $t in`,
  `      V) printf '%s\\t%s\\t%s\\t%s\\n' "$2cert" "$1" "$a" "$(kc_dersha "$b")" ;;`,
  `      N) printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$2count" "$1" "$a" "$b" "$c" "$d" "$e" ;;`,
  `    esac`,
  `  done`,
  `}`,
].join('\n');

/** The script: read-only; prints COPIES_PROTOCOL, then records (see parseKubeconfigCopies), then `end`. */
export function kubeconfigCopiesScript(q: KubeconfigCopiesQuery): string {
  const kdir = dirname(q.adminConf);
  return [
    CERT_SHA_SHELL,
    `kc_ok_name() { case $1 in *"$T"*|*'`,
    `'*) return 1 ;; esac; return 0; }`,
    `echo ${quote(COPIES_PROTOCOL)}`,
    `A=${quote(q.adminConf)}`,
    `if [ -L "$A" ] || { [ -e "$A" ] && [ ! -f "$A" ]; }; then printf 'admin\\t%s\\tother\\n' "$A"`,
    `elif [ -f "$A" ]; then printf 'admin\\t%s\\tfile\\t%s\\n' "$A" "$(sha256sum < "$A" | cut -d' ' -f1)"; kc_scan "$A" admin-`,
    `else printf 'admin\\t%s\\tmissing\\n' "$A"; fi`,
    // admin.conf as certroll's backups of its directory keep it (a resumed run finds the old certificate there).
    `for b in ${quote(backupDirOf(kdir, ''))}*/${quote(basename(q.adminConf))}; do`,
    `  case $b in *.partial/*) continue ;; esac`,
    `  [ -f "$b" ] && [ ! -L "$b" ] && kc_ok_name "$b" || continue`,
    `  printf 'earlier\\t%s\\n' "$b"; kc_scan "$b" earlier-`,
    `done`,
    // Homes from the passwd database (getent when present, else /etc/passwd).
    `DIRS=${quote((q.alwaysDirs ?? ['/root/.kube']).join('\n'))}`,
    `for u in ${['root', ...q.users.filter((u) => u !== 'root')].map(quote).join(' ')}; do`,
    q.passwdFile
      ? `  h=$(awk -F: -v u="$u" '$1 == u { print $6; exit }' ${quote(q.passwdFile)})`
      : `  if command -v getent >/dev/null 2>&1; then h=$(getent passwd "$u" | head -n 1 | cut -d: -f6); else h=$(awk -F: -v u="$u" '$1 == u { print $6; exit }' /etc/passwd); fi`,
    `  printf 'home\\t%s\\t%s\\n' "$u" "$h"`,
    `  [ -n "$h" ] && kc_ok_name "$h" || continue`,
    `  d="\${h%/}/.kube"`,
    `  printf '%s\\n' "$DIRS" | grep -qxF -- "$d" || DIRS="$DIRS`,
    `$d"`,
    `done`,
    `printf '%s\\n' "$DIRS" | while IFS= read -r d; do`,
    `  if [ -d "$d" ] && [ ! -L "$d" ]; then printf 'dir\\t%s\\t1\\n' "$d"; else printf 'dir\\t%s\\t0\\n' "$d"; continue; fi`,
    `  for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do`,
    `    kc_ok_name "$f" || continue`,
    `    if [ -L "$f" ]; then l=$(readlink -- "$f"); printf 'link\\t%s\\t%s\\n' "$f" "$(printf '%s' "$l" | tr '\\t\\n' '??')"; continue; fi`,
    `    [ -f "$f" ] || continue`,
    `    s=$(stat -c '%s\t%a\t%u\t%g' -- "$f") || continue`,
    `    if [ "\${s%%\t*}" -gt ${COPY_MAX_BYTES} ]; then printf 'big\\t%s\\t%s\\n' "$f" "$s"; continue; fi`,
    `    printf 'file\\t%s\\t%s\\t%s\\n' "$f" "$s" "$(sha256sum < "$f" | cut -d' ' -f1)"`,
    `    kc_scan "$f" ''`,
    `  done </dev/null`,
    `done`,
    `echo end`,
  ].join('\n');
}

const zeroCounts = (): KeyCounts => ({ anyCert: 0, blockCert: 0, servers: 0, otherCredentials: 0, names: 0 });
const countsOf = (f: string[]): KeyCounts => {
  const [anyCert, blockCert, servers, otherCredentials, names] = f.map(Number);
  return { anyCert: anyCert ?? 0, blockCert: blockCert ?? 0, servers: servers ?? 0, otherCredentials: otherCredentials ?? 0, names: names ?? 0 };
};
const certOf = (line: string, sha: string): CertHash => ({ line: Number(line), sha256: /^[0-9a-f]{64}$/.test(sha) ? sha : null });

/** Parses the script's output. Throws when it is not this protocol or is cut short (no `end`). */
export function parseKubeconfigCopies(host: string, q: KubeconfigCopiesQuery, stdout: string): KubeconfigCopiesFacts {
  const lines = stdout.split('\n');
  if (lines[0] !== COPIES_PROTOCOL) throw new Error(`${host}: the kubeconfig scan printed no "${COPIES_PROTOCOL}" header`);
  if (!lines.includes('end')) throw new Error(`${host}: the kubeconfig scan output is truncated (no end marker)`);
  const out: KubeconfigCopiesFacts = { host, adminConf: { path: q.adminConf, state: 'missing', certSha256: null }, earlier: [], homes: [], dirs: [], files: [] };
  const files = new Map<string, KubeconfigFileFact>();
  const earlier = new Map<string, { path: string; certSha256: string | null }>();
  for (const line of lines.slice(1)) {
    const [t, ...f] = line.split('\t');
    switch (t) {
      case 'admin':
        out.adminConf.state = f[1] === 'file' ? 'file' : f[1] === 'other' ? 'other' : 'missing';
        if (f[2]) out.adminConf.sha256 = f[2];
        break;
      case 'admin-cert':
        if (out.adminConf.certSha256 === null && f[2]) out.adminConf.certSha256 = certOf(f[1]!, f[2]).sha256;
        break;
      case 'admin-count':
        out.adminConf.counts = countsOf(f.slice(1));
        break;
      case 'earlier':
        earlier.set(f[0]!, { path: f[0]!, certSha256: null });
        out.earlier.push(earlier.get(f[0]!)!);
        break;
      case 'earlier-cert': {
        const e = earlier.get(f[0]!);
        if (e && e.certSha256 === null) e.certSha256 = certOf(f[1]!, f[2] ?? '').sha256;
        break;
      }
      case 'home':
        out.homes.push({ user: f[0]!, home: f[1] ? f[1] : null });
        break;
      case 'dir':
        out.dirs.push({ path: f[0]!, exists: f[1] === '1' });
        break;
      case 'link':
        files.set(f[0]!, { path: f[0]!, kind: 'link', size: 0, mode: 0, uid: 0, gid: 0, sha256: '', linkTarget: f[1] ?? '', certs: [], counts: zeroCounts() });
        break;
      case 'big':
      case 'file': {
        const [path, size, mode, uid, gid, sha] = f;
        files.set(path!, { path: path!, kind: t, size: Number(size), mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), sha256: t === 'file' ? (sha ?? '') : '', certs: [], counts: zeroCounts() });
        break;
      }
      case 'cert':
        files.get(f[0]!)?.certs.push(certOf(f[1]!, f[2] ?? ''));
        break;
      case 'count': {
        const file = files.get(f[0]!);
        if (file) file.counts = countsOf(f.slice(1));
        break;
      }
    }
  }
  out.files = [...files.values()];
  return out;
}

/** The admin.conf of a host: the step's `adminConf`, else `<kubernetesDir>/admin.conf`. */
export function adminConfOf(step: Pick<RefreshKubeConfigStep, 'adminConf'>, host: Pick<Host, 'vars'>): string {
  return step.adminConf ?? `${host.vars.kubernetesDir.replace(/\/+$/, '')}/admin.conf`;
}

/** The SSH users of the inventory, each once: whose homes' .kube directories are searched (besides root's). */
export function inventoryUsers(inv: Inventory): string[] {
  return [...new Set(inv.hosts.map((h) => h.ssh.user))];
}

/** Facts for the playbook's refresh-kube-config steps, by host; undefined when it has none. Never writes. */
export async function gatherKubeconfigCopies(inv: Inventory, playbook: Playbook, remote: (name: string) => Remote | undefined): Promise<Record<string, KubeconfigCopiesFacts> | undefined> {
  const steps = playbook.steps.filter((s): s is RefreshKubeConfigStep & Playbook['steps'][number] => s.type === 'refresh-kube-config');
  if (!steps.length) return undefined;
  const out: Record<string, KubeconfigCopiesFacts> = {};
  const users = inventoryUsers(inv);
  for (const step of steps) {
    const hosts = resolveTargets(inv, step.targets).filter((h) => !out[h]);
    await Promise.all(
      hosts.map(async (name) => {
        const r = remote(name);
        if (!r) return; // unreachable hosts are already blocking warnings
        const host = inv.hosts.find((h) => h.name === name)!;
        const q: KubeconfigCopiesQuery = { adminConf: adminConfOf(step, host), users };
        const timeoutMs = host.ssh.commandTimeout * 1000;
        try {
          out[name] = parseKubeconfigCopies(name, q, (await r.sh(kubeconfigCopiesScript(q), { timeoutMs })).stdout);
        } catch (e) {
          if (!(e instanceof HostError) && !(e instanceof Error && e.message.startsWith(`${name}: the kubeconfig scan`))) throw e;
          out[name] = { host: name, adminConf: { path: q.adminConf, state: 'missing', certSha256: null }, earlier: [], homes: [], dirs: [], files: [], error: e instanceof HostError ? e.shortMessage : e.message };
        }
      }),
    );
  }
  return out;
}
