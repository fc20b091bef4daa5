// Finds the certificates of a kubeconfig in the filtered lines the scan sends: which user or cluster, which field, which
// data (or which file, for a `client-certificate:` path), and the user of the current context.

export type KubeconfigField = 'client-certificate-data' | 'certificate-authority-data';

export interface KubeconfigCert {
  /** `users` for client-certificate-data, `clusters` for certificate-authority-data (as found in the file). */
  section: string;
  /** The entry's `name:`; undefined when the file does not say. */
  name?: string;
  /** 0-based position of the entry in its section. */
  entry: number;
  field: KubeconfigField;
  /** The base64 value (a PEM text, base64-encoded, as kubeconfig stores it). */
  base64: string;
}

/** A user entry naming its client certificate by file (`client-certificate: PATH`), as kubelet.conf does after rotation. */
export interface KubeconfigFileRef {
  section: string;
  name?: string;
  entry: number;
  /** As written (relative paths are relative to the kubeconfig's directory). */
  file: string;
}

export interface KubeconfigEntries {
  certs: KubeconfigCert[];
  refs: KubeconfigFileRef[];
  /** The user entry's name of `current-context` (what kubectl and kubeadm use), when the file says. */
  currentUser?: string;
}

const indentOf = (line: string) => /^[ \t]*/.exec(line)![0].length;
const unquote = (v: string) => v.trim().replace(/,$/, '').trim().replace(/^(["'])(.*)\1$/, '$2');

/**
 * Reads the YAML layout kubectl and kubeadm write (block style, lists at column 0 or indented).
 * JSON kubeconfigs yield their data too, without entry names.
 */
export function kubeconfigCerts(lines: readonly string[]): KubeconfigCert[] {
  return kubeconfigEntries(lines).certs;
}

/** Everything the scan's kubeconfig lines say: embedded certificates, certificate files, the current context's user. */
export function kubeconfigEntries(lines: readonly string[]): KubeconfigEntries {
  const out: KubeconfigCert[] = [];
  const refs: KubeconfigFileRef[] = [];
  const contextUser = new Map<string, string>();
  let currentContext: string | undefined;
  let section = '';
  let itemIndent: number | undefined;
  let entry = -1;
  let pending: KubeconfigCert[] = [];
  let pendingRefs: KubeconfigFileRef[] = [];
  let name: string | undefined;
  let user: string | undefined;
  const closeEntry = () => {
    for (const c of pending) out.push(name !== undefined ? { ...c, name } : c);
    for (const r of pendingRefs) refs.push(name !== undefined ? { ...r, name } : r);
    if (section === 'contexts' && name !== undefined && user !== undefined) contextUser.set(name, user);
    pending = [];
    pendingRefs = [];
    name = undefined;
    user = undefined;
  };
  for (const line of lines) {
    const top = /^([A-Za-z-]+)[ \t]*:(.*)$/.exec(line);
    if (top) {
      closeEntry();
      section = top[1]!;
      if (section === 'current-context') currentContext = unquote(top[2]!);
      itemIndent = undefined;
      entry = -1;
      continue;
    }
    const item = /^([ \t]*)- /.exec(line);
    const ind = indentOf(line);
    if (item && (itemIndent === undefined || item[1]!.length === itemIndent)) {
      closeEntry();
      itemIndent = item[1]!.length;
      entry++;
    }
    const rest = line.replace(/^[ \t]*(- )?[ \t]*/, '');
    const kv = /^"?([A-Za-z-]+)"?[ \t]*:[ \t]*(.*)$/.exec(rest);
    if (!kv) continue;
    const key = kv[1]!;
    const value = unquote(kv[2]!);
    if (key === 'name') {
      // Only the entry's own name (`- name: x`, or `  name: x` at the item's key column), not nested ones (exec env).
      const keyColumn = item ? item[1]!.length + 2 : ind;
      if (itemIndent !== undefined && keyColumn === itemIndent + 2 && name === undefined) name = value;
      continue;
    }
    if (key === 'user' && section === 'contexts' && value) {
      user = value;
      continue;
    }
    if ((key === 'client-certificate-data' || key === 'certificate-authority-data') && value) {
      pending.push({ section: section || (key === 'client-certificate-data' ? 'users' : 'clusters'), entry: Math.max(entry, 0), field: key, base64: value });
    }
    if (key === 'client-certificate' && value) pendingRefs.push({ section: section || 'users', entry: Math.max(entry, 0), file: value });
  }
  closeEntry();
  const currentUser = currentContext !== undefined ? contextUser.get(currentContext) : undefined;
  return { certs: out, refs, ...(currentUser !== undefined ? { currentUser } : {}) };
}
