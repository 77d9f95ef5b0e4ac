export { Runner, planLeaseResource, toStoredPlan } from './runner.js';
export type {
  ResumeOptions,
  RollbackOptions,
  RunOutcome,
  RunResult,
  RunnerOptions,
  StartOptions,
} from './runner.js';
export { approveStep, requestStop } from './run-control.js';
export type { ApproveResult, StopResult } from './run-control.js';
export { runEventPayload } from './run-events.js';
export type { RunEventPayload } from './run-events.js';
export { createSystemClock } from './system-clock.js';
export { defaultActor } from './actor.js';
export { toStoredError } from './stored-error.js';
export { DESCRIBE_RUN_ID, describePlan } from './describe-plan.js';
export type { DescribePlanOptions, DescribedStep, PlanDescription } from './describe-plan.js';
