// `--group-map` and `--overlay`: how an Ansible inventory given with -i is read, for every command that takes -i. (The
// inventory's warnings are printed by src/inventory/warnings.ts.)
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';

export function withAnsibleOptions<T>(y: Argv<T>) {
  return y
    .option('group-map', { type: 'string', describe: 'Ansible inventory: which groups are certroll roles, e.g. master=kube_control_plane,etcd=etcd,flannel=kube_node (default: kubespray/kubeasz/openshift/k3s names)' })
    .option('overlay', { type: 'string', describe: 'Ansible inventory: certroll overlay YAML with vars:, ssh:, groupMap:, hosts: (docs/fleets.md)' })
    // The inventory loader (and js-yaml under it) is imported only when one of these flags is given: `--help` and a
    // command refused for its flags start without it.
    .middleware((async (args: { 'group-map'?: string; overlay?: string }) => {
      if (args['group-map'] === undefined && args.overlay === undefined) return;
      const { ansibleImportOptions } = await import('../inventory/load.js');
      if (args['group-map'] !== undefined) {
        const { parseGroupMap } = await import('../inventory/ansible-import.js');
        try {
          ansibleImportOptions.groupMap = parseGroupMap(args['group-map']);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      if (args.overlay !== undefined) ansibleImportOptions.overlay = args.overlay;
    }) as never);
}

