// The users of a kubeconfig as the kubeadm facts query sends it (client-key-data already REDACTED on the host, so not a
// kubeconfig src/pki/kubeconfig.ts would accept): each user's kind of client certificate and key, and the certificate's
// base64 (pure, line-based). The rewrite itself is src/pki/kubeconfig.ts's rewriteClientCredentials, on the whole file.

export type Credential =
  | { kind: 'embedded'; /** base64 value as written (quotes removed). */ data: string }
  | { kind: 'path'; path: string }
  | { kind: 'none' };

export interface KubeconfigUser {
  name: string;
  cert: Credential;
  key: Credential;
}

interface Span {
  line: number;
  /** Offsets of the value within the whole text. */
  start: number;
  end: number;
}

interface UserSpans extends KubeconfigUser {
  certSpan?: Span;
  keySpan?: Span;
}

const unquote = (v: string) => v.trim().replace(/^(['"])(.*)\1$/, '$2');

function parse(text: string): UserSpans[] {
  const lines = text.split('\n');
  const offsets: number[] = [];
  let o = 0;
  for (const l of lines) {
    offsets.push(o);
    o += l.length + 1;
  }
  const users: UserSpans[] = [];
  const at = lines.findIndex((l) => /^users:\s*$/.test(l));
  if (at < 0) return users;
  let cur: UserSpans | null = null;
  let itemIndent = -1;
  for (let i = at + 1; i < lines.length; i++) {
    const l = lines[i]!.replace(/\r$/, '');
    if (/^[^\s-]/.test(l)) break; // next top-level key
    if (!l.trim() || l.trim().startsWith('#')) continue;
    const item = /^(\s*)- (.*)$/.exec(l);
    if (item && (itemIndent < 0 || item[1]!.length === itemIndent)) {
      itemIndent = item[1]!.length;
      cur = { name: '', cert: { kind: 'none' }, key: { kind: 'none' } };
      users.push(cur);
    }
    if (!cur) continue;
    const body = item && item[1]!.length === itemIndent ? item[2]! : l.trim();
    const kv = /^([A-Za-z-]+):\s*(.*)$/.exec(body);
    if (!kv) continue;
    const [, k, raw] = kv;
    const valueStart = offsets[i]! + l.length - raw!.length;
    const span = { line: i + 1, start: valueStart, end: offsets[i]! + l.length };
    if (k === 'name' && !cur.name && (item || /^\s*name:/.test(l)) && indentOf(l) <= itemIndent + 2) cur.name = unquote(raw!);
    else if (k === 'client-certificate-data') (cur.cert = { kind: 'embedded', data: unquote(raw!) }), (cur.certSpan = span);
    else if (k === 'client-key-data') (cur.key = { kind: 'embedded', data: unquote(raw!) }), (cur.keySpan = span);
    else if (k === 'client-certificate' && cur.cert.kind === 'none') cur.cert = { kind: 'path', path: unquote(raw!) };
    else if (k === 'client-key' && cur.key.kind === 'none') cur.key = { kind: 'path', path: unquote(raw!) };
  }
  return users;
}

const indentOf = (l: string) => l.length - l.trimStart().length;

/** Every user of a kubeconfig with the kind of its client certificate and key. */
export function kubeconfigUsers(text: string): KubeconfigUser[] {
  return parse(text).map(({ name, cert, key }) => ({ name, cert, key }));
}

/** The kubeconfig with every client-key-data value replaced by REDACTED (what the facts script sends from a host). */
export const REDACTED = 'REDACTED';
