// The registry of step types: one module per type, each with its plan and apply halves.
import type { StepType } from '../playbook/types.js';
import type { StepModule } from './types.js';
import { preflight } from './preflight.js';
import { backup } from './backup.js';
import { renewCa } from './renew-ca.js';
import { issueCert } from './issue-cert.js';
import { distribute } from './distribute.js';
import { rollingRestart } from './rolling-restart.js';
import { restartFlannel } from './restart-flannel.js';
import { verify } from './verify.js';
import { managerTemplates } from './manager-templates.js';
import { managerDb } from './manager-db.js';

export const stepModules: Record<StepType, StepModule<never>> = {
  preflight,
  backup,
  'renew-ca': renewCa,
  'issue-cert': issueCert,
  distribute,
  'rolling-restart': rollingRestart,
  'restart-flannel': restartFlannel,
  verify,
  'manager-templates': managerTemplates,
  'manager-db': managerDb,
} as unknown as Record<StepType, StepModule<never>>;
