// What certroll knows about the fleet after the read-only gathering: the only way the plan learns about hosts.
import type { ManagerFacts } from '../manager/types.js';
import type { FileRecord } from '../file-record.js';
import type { KubeconfigCopiesFacts } from './kubeconfig-copies.js';

/** A file of a listed directory; its path is relative to that directory. */
export interface FileFact extends FileRecord {
  mtime: number;
}

export interface LockInfo {
  runId: string;
  startedAt: string;
  controlHost?: string;
  user?: string;
  /** Process id of the certroll that took the lock, on controlHost. */
  pid?: number;
  /** The step the holder was in when it last wrote the lock. */
  step?: string;
  /** `rollback` when a rollback holds the lock (rollbackOf names the run it undoes). */
  kind?: string;
  rollbackOf?: string;
  /** Set when the owner file exists but is not a valid owner object (the other fields are then placeholders). */
  unreadable?: string;
}

/** What the rolling restart writes beside a manifest it parks: `<parkDir>/<manifest>.certroll-park`, one JSON object. */
export interface ParkMarkerRecord {
  runId: string;
  host: string;
  /** Plain manifest file name, e.g. `tos-etcd.manifest`. */
  manifest: string;
  /** Where the manifest lives when in place: `<manifestsDir>/<manifest>`. */
  from: string;
  /** Where it was parked: `<parkDir>/<manifest>`. */
  to: string;
  /** sha256 of the manifest's content. */
  sha256: string;
  parkedAt: string;
}

/** A park marker found on a host: parsed, or reported as unreadable (never thrown). */
export type ParkMarker =
  | ({ /** Marker file name in the park dir. */ file: string; readable: true } & ParkMarkerRecord)
  | { file: string; readable: false; /** The manifest named by the file name. */ manifest: string; error: string };

export interface HostFacts {
  host: string;
  /** `hostname` as the host reports it. */
  hostname: string;
  certDir: {
    path: string;
    exists: boolean;
    mode?: number;
    uid?: number;
    gid?: number;
    /** Every regular file under the cert dir, recursively. */
    files: FileFact[];
  };
  /** Contents of the playbook's managed certificate files (never keys), by file role (`ca`, `cert`); null when absent. */
  pems: Record<string, string | null>;
  manifests: {
    inPlace: string[];
    /** `*.manifest` files in the park dir. */
    parked: string[];
    /** sha256 of each parked manifest, by name. */
    parkedSha256: Record<string, string>;
    /** `*.certroll-park` markers in the park dir (written by the rolling restart beside a manifest it parks). */
    markers: ParkMarker[];
  };
  disk: { availKiB: number; certDirKiB: number };
  lock: LockInfo | null;
  /** Existing backup directories beside the cert dir. */
  backups: string[];
}

export interface EtcdMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export interface EtcdEndpointStatus {
  endpoint: string;
  memberId: string;
  leaderId: string;
  raftIndex: number;
  raftTerm: number;
  version: string;
}

export interface EtcdEndpointHealth {
  endpoint: string;
  healthy: boolean;
  error?: string;
}

export interface EtcdFacts {
  /** Host the etcdctl queries ran on. */
  queriedFrom: string;
  members: EtcdMember[];
  statuses: EtcdEndpointStatus[];
  health: EtcdEndpointHealth[];
  /** Inventory host name of the current leader, when it maps to one. */
  leaderHost?: string;
  /** etcd host name → member id, by client URL address. */
  memberOfHost: Record<string, string>;
  /** Why facts could not be read, when they could not. */
  error?: string;
  /**
   * The leaf certificate (PEM) each client endpoint presented in a TLS handshake, by endpoint URL; null when none was
   * seen. Absent when not asked for or when the querying host has no openssl.
   */
  served?: Record<string, string | null>;
}

export interface HostFailure {
  host: string;
  kind: string;
  message: string;
}

export interface FleetFacts {
  gatheredAt: string;
  hosts: Record<string, HostFacts>;
  unreachable: HostFailure[];
  etcd: EtcdFacts | null;
  /** The Manager host's templates and database, when the playbook has manager steps (src/manager/facts.ts). */
  manager?: ManagerFacts;
  /** Per control-plane host: admin.conf's client certificate and the kubeconfigs under root's and the SSH users' ~/.kube (refresh-kube-config). */
  kubeconfigCopies?: Record<string, KubeconfigCopiesFacts>;
}
