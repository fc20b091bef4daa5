// What certroll knows about the Transwarp Manager host: its TOS template directory and its `manager_info` database (no secrets).
import type { FileRecord } from '../file-record.js';

/** A file of the Manager's gencerts template directory as it was when facts were gathered: absent (exists false) or read whole. */
export type TemplateFileFact = { path: string; exists: boolean } & Partial<Omit<FileRecord, 'path'>> & {
  /** Text of the file (certificates and config.json only: nothing secret lives there). */
  content?: string;
};

/** How the TOS version directory was chosen. */
export type VersionSource = 'inventory' | 'single-directory' | 'registry-image';

export interface ManagerTemplateFacts {
  host: string;
  /** managerTemplateDir of the host (…/services/TOS). */
  root: string;
  rootExists: boolean;
  /** Subdirectories of root that hold templates/gencerts (the candidates). */
  candidates: string[];
  /** Every subdirectory of root. */
  dirs: string[];
  /** Tag of the registry image, when kubectl on the first master could tell. */
  registryTag?: string;
  version?: string;
  versionSource?: VersionSource;
  /** Why no version could be chosen (then the plan blocks). */
  problem?: string;
  /** <root>/<version>/templates/gencerts, once a version is chosen. */
  gencertsDir?: string;
  ca?: TemplateFileFact;
  config?: TemplateFileFact;
}

export type ManagerDbErrorCode =
  | 'not-configured'
  | 'no-password'
  | 'no-client'
  | 'auth'
  | 'unreachable'
  | 'no-database'
  | 'no-table'
  | 'bad-table'
  | 'denied'
  | 'ssh'
  | 'other';

/** One managed row of manager_info: its value's sha256 and byte length (never the value: one row holds a private key). */
export interface DbRowFact {
  sha256: string;
  size: number;
}

export interface ManagerDbFacts {
  /** Inventory host the mysql client runs on. */
  host: string;
  /** user@address:port/database, for messages. */
  target: string;
  table: string;
  ok: boolean;
  error?: { code: ManagerDbErrorCode; message: string };
  /** Storage engine of the table (InnoDB is needed for a transaction). */
  engine?: string;
  /** Managed rows by key; null when the row is missing (or its value is NULL). */
  rows: Record<string, DbRowFact | null>;
  /** Existing tables named <table>_bak_… (earlier backups). */
  backupTables: string[];
}

export interface ManagerFacts {
  /** Template facts per host targeted by a manager-templates step. */
  templates: Record<string, ManagerTemplateFacts>;
  /** Present when the playbook has a manager-db step. */
  db?: ManagerDbFacts;
}
