// What the host facts script of one host reads: its cert dir, manifests and park dirs, and which PEM files to parse (pure).
import type { Host } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { HostFactsQuery } from './host-facts.js';

export function factsQuery(host: Host, playbook: Playbook): HostFactsQuery {
  return {
    certDir: host.vars.certDir,
    manifestsDir: host.vars.manifestsDir,
    parkDir: host.vars.parkDir,
    pemFiles: { ca: playbook.files.ca, cert: playbook.files.cert },
  };
}
