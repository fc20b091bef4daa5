// `--group-map` and `--overlay`: how an Ansible inventory given with -i is read, for every command that takes -i. (The
// inventory's warnings are printed by src/inventory/warnings.ts.)
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { ansibleImportOptions } from '../inventory/load.js';
import { parseGroupMap } from '../inventory/ansible-import.js';

export function withAnsibleOptions<T>(y: Argv<T>) {
  return y
    .option('group-map', { type: 'string', describe: 'Ansible inventory: which groups are certroll roles, e.g. master=kube_control_plane,etcd=etcd,flannel=kube_node (default: kubespray/kubeasz/openshift/k3s names)' })
    .option('overlay', { type: 'string', describe: 'Ansible inventory: certroll overlay YAML with vars:, ssh:, groupMap:, hosts: (docs/fleets.md)' })
    .middleware(((args: { 'group-map'?: string; overlay?: string }) => {
      if (args['group-map'] !== undefined) {
        try {
          ansibleImportOptions.groupMap = parseGroupMap(args['group-map']);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      if (args.overlay !== undefined) ansibleImportOptions.overlay = args.overlay;
    }) as never);
}

