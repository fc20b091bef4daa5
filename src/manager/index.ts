// The Manager node's part of a renewal (issue 6): facts, the template and database changes, and the restores the rollback command calls.
export { gatherManagerFacts, managedKeys, gencertsDirOf, type ManagerFactsDeps } from './facts.js';
export { restoreManagerTemplates, inspectTemplatesBackup, type RestoreTemplatesOptions, type RestoreTemplatesResult } from './templates.js';
export { managerTemplatesBackupDir } from '../host-paths.js';
export { restoreManagerDb, inspectDbBackup, type RestoreDbOptions, type RestoreDbResult } from './db.js';
export { managerDbPassword, runSql, ManagerDbError, dbTarget } from './mysql.js';
export { backupTableName, rowValueOf } from './sql.js';
export { rewriteExpiry } from './config-json.js';
export { chooseVersion } from './version.js';
export type * from './types.js';
