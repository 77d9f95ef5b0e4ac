import {
  assertVerificationPassed,
  runVerification,
  verificationChecksSchema,
  type VerificationCheck,
  type VerificationReport,
} from '../data/index.js';
import type { StepKind } from './step-kind.js';

/** Spec of a `verify` step: the list of checks. */
export type VerifySpec = VerificationCheck[];

/** Output of a `verify` step: the report (it passed: no critical failure). */
export type VerifyOutput = VerificationReport;

/**
 * `verify: [...]` — runs verification checks (`sql`, `counts`, `compare`,
 * each with `severity: critical | warning | info`, default critical; see
 * `runVerification`) read-only and records the report as the step's output
 * and in the audit log (`verify.report`). A failed critical check fails the
 * step with CutoverError `VERIFICATION_FAILED` (validation), the report in
 * its details. Nothing to compensate.
 */
export function createVerifyStepKind(): StepKind<VerifySpec, VerifyOutput> {
  return {
    name: 'verify',
    schema: verificationChecksSchema,
    describe(spec) {
      const count = (severity: string) =>
        spec.filter((c) => (c.severity ?? 'critical') === severity).length;
      return Promise.resolve({
        summary: `Run ${spec.length} verification check${spec.length === 1 ? '' : 's'} (${count('critical')} critical, ${count('warning')} warning, ${count('info')} info); a failed critical check fails the step.`,
        details: spec.map((c) => {
          const kind = 'sql' in c ? 'sql' : 'counts' in c ? 'counts' : 'compare';
          return `${c.severity ?? 'critical'} ${kind}: ${c.name ?? ('sql' in c ? c.sql : 'counts' in c ? `${c.counts.source} = ${c.counts.target}` : `${c.compare.source} = ${c.compare.target}`).replace(/\s+/g, ' ').slice(0, 100)}`;
        }),
        compensation: 'none (read-only)',
      });
    },
    async apply(spec, ctx) {
      ctx.progress({ done: 0, total: spec.length, unit: 'checks' });
      const report = await runVerification(ctx.pool, spec, {
        signal: ctx.signal,
        clock: ctx.clock,
        onProgress: (done, total) => ctx.progress({ done, total, unit: 'checks' }),
      });
      await ctx.log('verify.report', {
        passed: report.passed,
        critical: report.critical.map((c) => ({ name: c.name, message: c.message })),
        warnings: report.warnings.map((c) => ({ name: c.name, message: c.message })),
        info: report.info.map((c) => ({ name: c.name, message: c.message })),
        recommendations: report.recommendations,
        checks: report.checks.length,
        durationMs: report.durationMs,
      });
      assertVerificationPassed(report);
      return report;
    },
  };
}
