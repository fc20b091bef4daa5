// The contract of a step type: a pure `plan` half (facts → actions) and an `apply` half (actions → remote changes).
import type { Inventory, Host } from '../inventory/types.js';
import type { Playbook, StepSpec, StepType } from '../playbook/types.js';
import type { FleetFacts, HostFacts } from '../facts/types.js';
import type { Action, Plan, PlannedStep, PlanStepType, Warning } from '../plan/types.js';
import type { Remote } from '../ssh/remote.js';
import type { Material } from '../plan/material.js';
import type { Scope } from '../playbook/template.js';

/** What a failed health check during the rolling restart leads to. */
export type OnFailure = 'rollback-node' | 'stop' | 'rollback-all';

export interface PlanContext {
  inventory: Inventory;
  playbook: Playbook;
  facts: FleetFacts;
  /** null when nothing needs renewing or material could not be made (then the plan is blocked or has nothing to do). */
  material: Material | null;
  runId: string;
  now: Date;
  /** `--pause` override for rolling restarts. */
  pauseSeconds?: number;
  hostsOf(targets: string[]): string[];
  host(name: string): Host;
  hostFacts(name: string): HostFacts | undefined;
  /** Template scope of a host: vars, host, files, etcd. */
  scope(name: string): Scope;
  warn(w: Warning): void;
  /** Steps planned so far, in order. */
  planned: PlannedStep[];
  /** Set when continuing a stopped run: its backups are kept, restarted nodes are not restarted again. */
  resume?: ResumeState;
  /** What this step's `prepare` half made (in memory: new files, keys as Secret); undefined when it has none or did not run. */
  stepData?: unknown;
}

export interface ResumeState {
  /** etcd hosts the stopped run already restarted with the new certificates. */
  restarted: string[];
  /** Playbook step indexes the stopped run finished (or the operator marked done with --skip): planned with no actions. */
  done?: Record<number, 'earlier' | 'operator'>;
}

export interface StepPlanResult {
  hosts: string[];
  actions: Action[];
  notes: string[];
}

export interface ApplyContext {
  plan: Plan;
  inventory: Inventory;
  playbook: Playbook;
  material: Material | null;
  remotes: Map<string, Remote>;
  remote(host: string): Remote;
  scope(name: string): Scope;
  runId: string;
  /** Facts gathered for the plan (what the fleet looked like). */
  facts: FleetFacts;
  /** Where secrets the inventory names by variable are read (the Manager database password); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** `lockFields`: more fields of the lock's owner.json (a rollback writes kind and rollbackOf: `certroll status` reads them). */
  options: { breakLock: boolean; controlHost: string; user: string; onFailure: OnFailure; lockFields?: Record<string, string> };
  /** Aborted on SIGINT: long waits end early and the step stops at its next safe point. */
  signal: AbortSignal;
  /** Extra journal records (e.g. which nodes were restarted, for --resume). */
  journalNote?: (e: { event: string; host?: string; message?: string }) => Promise<void>;
  /** Write-ahead journal records (intent before a change, result after it): flushed to disk before returning. */
  journalIntent?: (e: { event: string; host?: string; message?: string }) => Promise<void>;
  /** Hosts whose lock this run holds (released at the end). */
  locked: Set<string>;
  /**
   * Replace a host's dropped SSH connection (Fleet.reconnect). Used where giving up would leave a member down: a parked
   * node's restart retries with backoff for `reconnectSeconds` before it stops the run.
   */
  reconnect?: (host: string) => Promise<Remote>;
  /** How long to keep trying to reconnect to a parked member's host (--reconnect-timeout; default 120 s). */
  reconnectSeconds?: number;
  /** Set by the engine: whether a step failed (or the run was interrupted) so far; the cleanup phase deletes staged files then. */
  failed?: () => boolean;
  /** What steps did, for the caller's summary (`rollback --json`): filled by the steps that restore and restart. */
  results?: ApplyResults;
  /** What each step's `prepare` half made, by playbook step index (in memory only; see PrepareContext). */
  stepData?: Record<number, unknown>;
}

/** What the restoring and restarting steps did, in order. */
export interface ApplyResults {
  restored: Array<{ host: string; files: number; removed: string[] }>;
  /** Manager templates and DB rows put back (issue 6). */
  manager: Array<{ host: string; what: 'templates' | 'db'; found: boolean; restored: string[]; removed?: string[] }>;
  restarted: Array<{ host: string; leader: boolean; timing: { stopWaitMs: number; pauseMs: number; healthWaitMs: number } }>;
  /** ~/.kube copies of admin.conf (kubeadm): put back, already as before, or left (changed since the plan). */
  kubeconfigs?: Array<{ host: string; path: string; outcome: 'restored' | 'already' | 'left'; message: string }>;
}

/** One unit of work the engine shows as a sub-task: per host, or one for the whole step. */
export interface WorkItem {
  title: string;
  host?: string;
  run(report: (message: string) => void): Promise<void>;
}

export interface Phase {
  title?: string;
  items: WorkItem[];
  concurrent: boolean;
}

/** What the engine needs of a step type: its place among the others and its apply half. */
export interface ApplyHalf<S = undefined> {
  type: PlanStepType;
  /**
   * The earlier step types this step depends on: it runs only when every earlier step of these types succeeded (or the
   * operator marked it done with --skip). A step not listed is independent: its failure does not stop this one.
   */
  needs: PlanStepType[];
  /** Whether the step changes live state on a host (certificates, manifests, the Manager): the first such step is the point of no return. */
  changesLiveState: boolean;
  /** The plan's final phase (cleanup): it runs also after a failure or an interrupt. */
  always?: boolean;
  /** The work of a planned step: phases run one after another; a phase's items may run at the same time. */
  apply(step: PlannedStep, spec: S, ctx: ApplyContext): Phase | Phase[];
}

/**
 * A playbook step type: its plan half decides the actions from the fleet's facts. (The rollback's step types are apply
 * halves only: the rollback planner, src/rollback/plan.ts, decides their actions from what it read on the hosts.)
 */
export interface StepModule<S extends StepSpec = StepSpec> extends ApplyHalf<S> {
  type: S['type'];
  needs: StepType[];
  /** Pure: decides the actions from facts. */
  plan(spec: S, ctx: PlanContext): StepPlanResult;
  /**
   * Optional, read-only: after the facts, before the plan, the pipeline calls it to read what this step needs from the
   * hosts (its own facts query, CA keys into memory) and to make its new files in memory. Everything knowable is found
   * here (returned as findings), so that the plan shows it and blocks before the first remote write. Never writes.
   */
  prepare?(spec: S, ctx: PrepareContext): Promise<PrepareResult>;
  /** The step reads the TOS etcd material (`ctx.material`, made by the pipeline from `files:`): renew-ca, issue-cert, distribute, the Manager's. */
  usesMaterial?: boolean;
}

/** What a step's prepare half may use: facts, the inventory, read access to the hosts, the stopped run when resuming. */
export interface PrepareContext {
  inventory: Inventory;
  playbook: Playbook;
  facts: FleetFacts;
  now: Date;
  /** This step's index in the playbook. */
  index: number;
  renewWithinDays: number;
  force: boolean;
  hostsOf(targets: string[]): string[];
  host(name: string): Host;
  /** A connected host's Remote (read only: prepare never writes); undefined when unreachable. */
  remote(name: string): Remote | undefined;
  /** Resuming: the stopped run's plan and the facts from before it (to recognise the files it already wrote). */
  resume?: { plan: Plan; preFacts: FleetFacts };
}

export interface PrepareResult {
  /** Whether this step has something to renew, and why (or why not): merged into the plan's reasons. */
  needed: boolean;
  reasons: string[];
  findings: Warning[];
  /** Handed to this step's plan and apply halves as `stepData`. */
  data: unknown;
}
