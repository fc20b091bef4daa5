// Which TOS version directory under the Manager's template root to update: inventory, the single one present, or the registry image tag (pure).
import type { VersionSource } from './types.js';

export interface VersionChoice {
  version?: string;
  source?: VersionSource;
  /** Why no version was chosen: says what to set. */
  problem?: string;
}

export interface VersionInput {
  root: string;
  rootExists: boolean;
  /** Subdirectories of root holding templates/gencerts. */
  candidates: string[];
  /** Every subdirectory of root. */
  dirs: string[];
  /** Inventory variable tosVersion. */
  configured?: string;
  /** Tag of the registry image (kubectl on the first master), when known. */
  registryTag?: string;
}

/** Inventory variable first; then the only candidate; then the registry image's tag when it names a candidate; else ask. */
export function chooseVersion(i: VersionInput): VersionChoice {
  if (!i.rootExists) return { problem: `the Manager template root ${i.root} does not exist; set vars.managerTemplateDir in the inventory` };
  if (i.configured) {
    if (!i.dirs.includes(i.configured))
      return { problem: `tosVersion "${i.configured}" (inventory) is not a directory under ${i.root}${i.dirs.length ? ` (found: ${i.dirs.join(', ')})` : ''}` };
    if (!i.candidates.includes(i.configured)) return { problem: `${i.root}/${i.configured} has no templates/gencerts directory` };
    return { version: i.configured, source: 'inventory' };
  }
  if (i.candidates.length === 1) return { version: i.candidates[0]!, source: 'single-directory' };
  if (i.candidates.length === 0)
    return { problem: `no TOS version directory with templates/gencerts under ${i.root}${i.dirs.length ? ` (directories: ${i.dirs.join(', ')})` : ''}; set vars.tosVersion in the inventory` };
  if (i.registryTag && i.candidates.includes(i.registryTag)) return { version: i.registryTag, source: 'registry-image' };
  return {
    problem: `several TOS version directories under ${i.root}: ${i.candidates.join(', ')}${i.registryTag ? ` (the registry image tag "${i.registryTag}" names none of them)` : ''}; set vars.tosVersion in the inventory to the one in use`,
  };
}

/** Script listing root's subdirectories, each with whether it holds templates/gencerts. Read-only. */
export function listVersionsScript(quotedRoot: string): string {
  return `root=${quotedRoot}
if [ -d "$root" ]; then echo '@@root yes'; else echo '@@root no'; exit 0; fi
for d in "$root"/*/; do
  [ -d "$d" ] || continue
  n=\${d%/}; n=\${n##*/}
  if [ -d "$d/templates/gencerts" ]; then echo "@@dir 1 $n"; else echo "@@dir 0 $n"; fi
done`;
}

export function parseVersionListing(stdout: string): { rootExists: boolean; dirs: string[]; candidates: string[] } {
  const lines = stdout.split('\n');
  const rootExists = lines.includes('@@root yes');
  const dirs: string[] = [];
  const candidates: string[] = [];
  for (const l of lines) {
    const m = /^@@dir ([01]) (.+)$/.exec(l);
    if (!m) continue;
    dirs.push(m[2]!);
    if (m[1] === '1') candidates.push(m[2]!);
  }
  return { rootExists, dirs: dirs.sort(), candidates: candidates.sort() };
}

/** kubectl command printing `pod<TAB>image image…` for every kube-system pod. */
export const registryPodsArgv = [
  'kubectl',
  'get',
  'po',
  '-n',
  'kube-system',
  '-o',
  'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{range .spec.containers[*]}{.image}{" "}{end}{"\\n"}{end}',
];

/** The tag of the registry pod's image (`transwarp/registry:tos-2.1` → `tos-2.1`), from registryPodsArgv's output. */
export function registryTagFrom(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    const [pod, images] = line.split('\t');
    if (!pod || !images || !/registry/i.test(pod)) continue;
    for (const image of images.trim().split(/\s+/)) {
      const name = image.replace(/@sha256:[0-9a-f]+$/, '');
      const slash = name.lastIndexOf('/');
      const colon = name.lastIndexOf(':');
      if (colon > slash && /registry/i.test(name.slice(0, colon))) return name.slice(colon + 1);
    }
  }
  return undefined;
}
