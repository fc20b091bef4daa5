// Reads the certificates held in Kubernetes secrets: one `kubectl get secrets` on a control-plane host, filtered on the
// server by type and on the host by awk, so that only certificate text (never a key) crosses the wire.
//
// What runs on the host (buildSecretsScript):
//   kubectl get secrets --all-namespaces --field-selector 'type!=helm.sh/release.v1,…' -o go-template=…
//     | awk (the same filter as the file scan) | head -c CAP
// - The field selector drops Helm releases (up to ~1 MiB each), service-account tokens and the other types that never
//   hold a certificate, on the API server.
// - The go-template emits only values whose base64 starts with `-----BEGIN CERTIFICATE-----` (a key value starts with
//   `-----BEGIN … PRIVATE KEY-----` and is never emitted) or with `apiVersio` / `clusters:` (a kubeconfig), decoded
//   (`base64decode`), each after a marker line holding a nonce drawn per run (a secret's content cannot forge one).
// - awk keeps the lines of certificate blocks and the allowed kubeconfig lines (as ./scan-script.ts does for files): a
//   key inside a kubeconfig (`client-key-data`) or after a certificate in the same value stays on the host.
// - head -c caps what certroll reads; a capped output is reported as such, never parsed as complete.
import { randomBytes } from 'node:crypto';
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { quote } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import { CertDecoder, hostHoldings } from './holdings.js';
import type { FileNote, HostHoldings, SecretRef, SecretsProblem, SecretsSummary } from './model.js';
import { parseScanOutput, type ScannedFile } from './scan-output.js';

export const SECRETS_PROTOCOL = 'certroll-secrets 1';

/** Secret types that never hold a certificate, dropped by the API server (a field selector on `type`). */
export const SKIPPED_SECRET_TYPES = [
  'helm.sh/release.v1',
  'kubernetes.io/service-account-token',
  'bootstrap.kubernetes.io/token',
  'kubernetes.io/dockerconfigjson',
  'kubernetes.io/dockercfg',
  'kubernetes.io/basic-auth',
  'kubernetes.io/ssh-auth',
] as const;

export const FIELD_SELECTOR = SKIPPED_SECRET_TYPES.map((t) => `type!=${t}`).join(',');

/** base64 prefixes (whole 3-byte groups) of the values the template decodes: a PEM certificate, a kubeconfig. */
export const VALUE_PREFIXES = {
  certificate: Buffer.from('-----BEGIN CERTIFICATE-----').toString('base64'),
  kubeconfigApiVersion: Buffer.from('apiVersio').toString('base64'),
  kubeconfigClusters: Buffer.from('clusters:').toString('base64'),
};

/** Where kubectl is looked for when the inventory does not say (besides PATH): kubeasz, RKE2, snap, /usr/local. */
export const KUBECTL_PLACES = ['/usr/local/bin/kubectl', '/usr/bin/kubectl', '/opt/kube/bin/kubectl', '/var/lib/rancher/rke2/bin/kubectl', '/snap/bin/kubectl'];

/** The kubeconfig used when the inventory names none and kubectl has none of its own ($KUBECONFIG, ~/.kube/config). */
export const DEFAULT_KUBECONFIG = '/etc/kubernetes/admin.conf';

export interface SecretsOptions {
  /** kubectl on the host (absolute); default: PATH, then KUBECTL_PLACES. */
  kubectl?: string;
  /** --kubeconfig; default: kubectl's own, else DEFAULT_KUBECONFIG when readable. */
  kubeconfig?: string;
  /** Bytes certroll reads at most (after the host-side filter). */
  maxBytes: number;
  /** The whole command, SSH included; kubectl's own --request-timeout is 5 s less. */
  timeoutMs: number;
}

export const defaultSecretsOptions: SecretsOptions = { maxBytes: 4 << 20, timeoutMs: 30_000 };

/** The go-template: per secret and data key, a marker line then the decoded value, for certificate and kubeconfig values only. */
export function goTemplate(nonce: string): string {
  const p = VALUE_PREFIXES;
  return (
    `{{range .items}}{{$ns := .metadata.namespace}}{{$name := .metadata.name}}{{$type := .type}}` +
    `{{range $key, $value := .data}}` +
    `{{if eq (printf "%.${p.certificate.length}s" $value) "${p.certificate}"}}\n@@${nonce} {{$ns}} {{$name}} {{$key}} {{$type}}\n{{base64decode $value}}{{end}}` +
    `{{if eq (printf "%.12s" $value) "${p.kubeconfigApiVersion}" "${p.kubeconfigClusters}"}}\n@@${nonce} {{$ns}} {{$name}} {{$key}} {{$type}}\n{{base64decode $value}}{{end}}` +
    `{{end}}{{end}}`
  );
}

/** The awk filter: marker lines start records; inside one, the file scan's rules; the exit line ends the stream. */
function awkProgram(nonce: string): string {
  return `
BEGIN { print ${JSON.stringify(SECRETS_PROTOCOL)}; mark = "@@${nonce} "; exitmark = "@@${nonce}-exit "; n = 0; inrec = 0; code = "none" }
function endrec(   i) {
  if (!inrec) return
  if (incert) print "C\\t-----TRUNCATED-----"
  if (kdata) for (i = 1; i <= kn; i++) print "Y\\t" kl[i]
  for (i = 1; i <= kn; i++) delete kl[i]
  print "E\\t" (key ? "private-key" : "-")
  n++; inrec = 0
}
{
  line = $0
  sub(/\\r$/, "", line)
  if (index(line, exitmark) == 1) { endrec(); code = substr(line, length(exitmark) + 1); next }
  if (index(line, mark) == 1) {
    endrec()
    split(substr(line, length(mark) + 1), f, " ")
    t = substr(line, length(mark) + length(f[1]) + length(f[2]) + length(f[3]) + 4)
    print "F\\t" f[1] "/" f[2] "/" f[3] "\\t" t
    inrec = 1; incert = 0; key = 0; kdata = 0; kn = 0
    next
  }
  if (!inrec) next
  if (incert) {
    if (line ~ /^-----END CERTIFICATE-----[ \\t]*$/) { print "C\\t" line; incert = 0; next }
    if (line ~ /^[ \\t]*[A-Za-z0-9+\\/=]*[ \\t]*$/) { print "C\\t" line; next }
    incert = 0
    print "C\\t-----TRUNCATED-----"
  }
  if (line ~ /^-----BEGIN CERTIFICATE-----[ \\t]*$/) { incert = 1; print "C\\t" line; next }
  if (line ~ /PRIVATE KEY-----/) { key = 1; next }
  if (line ~ /^[ \\t]*(- )?[ \\t]*"?(client-certificate-data|certificate-authority-data)"?[ \\t]*:/) { kdata++; kl[++kn] = line; next }
  if (line ~ /^(clusters|users|contexts|current-context|kind|apiVersion|preferences)[ \\t]*:/ || line ~ /^[ \\t]*(- )?[ \\t]*name[ \\t]*:/ || line ~ /^[ \\t]*- [A-Za-z-]+[ \\t]*:[ \\t]*$/) {
    if (line !~ /[Kk][Ee][Yy]|[Tt][Oo][Kk][Ee][Nn]|[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt]/) kl[++kn] = line
  }
}
END { endrec(); print "S\\t" code; print "D\\t" n }
`;
}

/** The script run on the control-plane host (through Remote.sh). Exit 127 with a message when kubectl is not there. */
export function buildSecretsScript(opts: SecretsOptions, nonce = randomBytes(12).toString('hex')): string {
  const requestTimeout = Math.max(1, Math.floor(opts.timeoutMs / 1000) - 5);
  const find = opts.kubectl
    ? `k=${quote(opts.kubectl)}; [ -x "$k" ] || { echo "kubectl not found: $k is not an executable file" >&2; exit 127; }`
    : [
        'k=$(command -v kubectl 2>/dev/null) || k=',
        `for p in ${KUBECTL_PLACES.map(quote).join(' ')}; do [ -z "$k" ] && [ -x "$p" ] && k=$p; done`,
        `[ -n "$k" ] || { echo "kubectl not found (PATH: $PATH; also looked in ${KUBECTL_PLACES.join(', ')})" >&2; exit 127; }`,
      ].join('\n');
  const kubeconfig = opts.kubeconfig
    ? `set -- --kubeconfig ${quote(opts.kubeconfig)}`
    : `set --; if [ -z "\${KUBECONFIG:-}" ] && [ ! -r "\${HOME:-/root}/.kube/config" ] && [ -r ${quote(DEFAULT_KUBECONFIG)} ]; then set -- --kubeconfig ${quote(DEFAULT_KUBECONFIG)}; fi`;
  const args = ['get', 'secrets', '--all-namespaces', '--field-selector', FIELD_SELECTOR, '-o', `go-template=${goTemplate(nonce)}`, `--request-timeout=${requestTimeout}s`];
  return [
    'LC_ALL=C; export LC_ALL',
    find,
    kubeconfig,
    `{ "$k" "$@" ${args.map(quote).join(' ')}; rc=$?; echo; echo "@@${nonce}-exit $rc"; } | awk ${quote(awkProgram(nonce))} | head -c ${opts.maxBytes}`,
  ].join('\n');
}

/** `secret:NAMESPACE/NAME/KEY`: what the report shows as the path of a secret's certificate. */
export function secretPath(s: Pick<SecretRef, 'namespace' | 'name' | 'key'>): string {
  return `secret:${s.namespace}/${s.name}/${s.key}`;
}

/** What one exec of the script gave: the holdings, or why the secrets could not be read. */
export type SecretsRead = { ok: true; holdings: HostHoldings; values: number } | { ok: false; problem: SecretsProblem; reason: string };

const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).at(-1)?.trim() ?? '';

/** Why kubectl failed, from its exit code and stderr (kubectl's own messages, e.g. "error: You must be logged in to the server (Unauthorized)"). */
export function classifyKubectlFailure(code: string | number | null, stderr: string): { problem: SecretsProblem; reason: string } {
  const last = lastLine(stderr).slice(0, 300);
  if (String(code) === '127' || /kubectl not found/.test(stderr)) return { problem: 'missing', reason: last || 'kubectl not found' };
  if (/Unauthorized|must be logged in|forbidden|Forbidden/.test(stderr)) return { problem: 'unauthorized', reason: last };
  if (/Timeout|timeout|deadline exceeded|timed out/.test(stderr)) return { problem: 'timeout', reason: last };
  return { problem: 'failed', reason: last ? `kubectl exited with ${code}: ${last}` : `kubectl exited with ${code}` };
}

/** Parse the script's output into holdings; every way it can be incomplete is a problem, never a partial success. */
export function parseSecretsOutput(host: string, stdout: string, stderr: string, exitCode: number | null, opts: Pick<SecretsOptions, 'maxBytes'>, decoder: CertDecoder): SecretsRead {
  if (exitCode === 127) return { ok: false, ...classifyKubectlFailure(127, stderr) };
  let status: string | undefined;
  const parsed = parseScanOutput(stdout, {
    protocol: SECRETS_PROTOCOL,
    extra: (tag, rest) => {
      if (tag !== 'S') return false;
      status = rest;
      return true;
    },
  });
  if (!parsed.ok) {
    if (Buffer.byteLength(stdout) >= opts.maxBytes) {
      return { ok: false, problem: 'truncated', reason: `the secrets' certificates are more than ${opts.maxBytes} bytes: raise the cap (CheckOptions.secretsMaxBytes) or read them in parts` };
    }
    return { ok: false, problem: 'failed', reason: `${parsed.problem}${lastLine(stderr) ? ` (${lastLine(stderr).slice(0, 200)})` : ''}` };
  }
  if (status !== '0') return { ok: false, ...classifyKubectlFailure(status ?? 'none', stderr) };
  const files: ScannedFile[] = [];
  const refs = new Map<string, SecretRef>();
  for (const f of parsed.files) {
    const [where, type = ''] = f.path.split('\t') as [string, string?];
    const [namespace = '', name = '', key = ''] = where.split('/');
    const ref: SecretRef = { namespace, name, key, type };
    const path = secretPath(ref);
    refs.set(path, ref);
    files.push({ ...f, path });
  }
  const holdings = hostHoldings(host, files, decoder);
  for (const c of holdings.certs) {
    const ref = refs.get(c.site.path);
    if (ref) c.site.secret = ref;
  }
  // A key after a certificate in one value was not read: that is the design, not a finding worth a row per secret.
  holdings.notes = holdings.notes.filter((n: FileNote) => n.reason !== 'private-key' && n.reason !== 'no-certificate');
  return { ok: true, holdings, values: parsed.files.length };
}

/** Read the secrets through kubectl on one connected host. Never throws for kubectl's sake: a problem is a result. */
export async function readSecrets(remote: Remote, host: Host, opts: SecretsOptions, decoder: CertDecoder): Promise<SecretsRead> {
  const script = buildSecretsScript(opts);
  try {
    const res = await remote.sh(script, { allowFailure: true, timeoutMs: opts.timeoutMs });
    return parseSecretsOutput(host.name, res.stdout, res.stderr, res.exitCode, opts, decoder);
  } catch (e) {
    if (e instanceof HostError && e.kind === 'timeout') {
      return { ok: false, problem: 'timeout', reason: `kubectl did not answer within ${Math.round(opts.timeoutMs / 1000)} s` };
    }
    if (e instanceof HostError) return { ok: false, problem: 'failed', reason: e.shortMessage };
    throw e;
  }
}

/** The report's `secrets` entry for a read. */
export function secretsSummary(host: string, read: SecretsRead): SecretsSummary {
  return read.ok ? { host, status: 'ok', values: read.values } : { host, status: 'unavailable', values: 0, problem: read.problem, reason: read.reason };
}
