// The registry of step types: one module per playbook type, each with its plan and apply halves; and every type the engine runs.
import type { StepType } from '../playbook/types.js';
import type { PlanStepType } from '../plan/types.js';
import type { ApplyHalf, StepModule } from './types.js';
import { rollbackSteps } from './rollback.js';
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
import { renewCas } from './renew-cas.js';
import { renewLeaves } from './renew-leaves.js';
import { renewKubeconfigs } from './renew-kubeconfigs.js';
import { refreshKubeConfig } from './refresh-kube-config.js';

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
  'renew-cas': renewCas,
  'renew-leaves': renewLeaves,
  'renew-kubeconfigs': renewKubeconfigs,
  'refresh-kube-config': refreshKubeConfig,
} as unknown as Record<StepType, StepModule<never>>;

/** Every step type a plan can hold, by type: the playbook's modules and the rollback's apply halves (src/steps/rollback.ts). The engine runs these. */
export const applyHalves: Record<PlanStepType, ApplyHalf<never>> = {
  ...stepModules,
  ...Object.fromEntries(rollbackSteps.map((m) => [m.type, m])),
} as unknown as Record<PlanStepType, ApplyHalf<never>>;
