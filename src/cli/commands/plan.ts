import { relative } from 'node:path';
import type { Command } from 'commander';
import { redactDatabaseUrl } from '../../db/index.js';
import {
  formatDuration,
  loadPlan,
  planDatabase,
  planJsonSchema,
  type Plan,
} from '../../plan/index.js';
import { describePlan, type PlanDescription } from '../../runner/index.js';
import { safeOrigin } from '../../steps/index.js';
import { cliRegistry, openControl, usesPlanDatabase } from '../control-context.js';
import type { CommandContext } from '../command-context.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import { runCommand } from '../run-command.js';

interface PlanFlags {
  json?: boolean;
  databaseUrl?: string;
}

/** `cutover plan [file]` and `cutover plan schema`. */
export function registerPlan(program: Command): void {
  const plan = program
    .command('plan')
    .description(
      'Validate a plan and print its steps in order: what each will do (pending migrations with their locks, rows a backfill will touch) and its compensation.',
    )
    .argument('[file]', 'plan file (YAML or .ts)', 'cutover.yaml')
    .option(
      '--database-url <url>',
      'target database (default: DATABASE_URL, the plan, or the embedded PostgreSQL)',
    )
    .option('--json', 'print one JSON document')
    .action(async (file: string, flags: PlanFlags) => {
      await runCommand(flags, async (ctx) => {
        const registry = cliRegistry();
        const loaded = await loadPlan(file, { registry, cwd: ctx.cwd });
        const control = await openControl(ctx, {
          flag: flags.databaseUrl,
          configured: usesPlanDatabase(flags.databaseUrl) ? planDatabase(loaded) : undefined,
        });
        const description = await describePlan(loaded, {
          pool: control.pool,
          databaseUrl: control.url,
          registry,
        });
        printPlan(ctx, loaded, description, control.url);
        const failed = description.steps.find((s) => s.error !== undefined);
        return failed?.error === undefined
          ? EXIT.ok
          : exitCodeFor(failed.error.category as Parameters<typeof exitCodeFor>[0]);
      });
    });
  plan
    .command('schema')
    .description(
      'Print the JSON Schema of plan files (for editor completion: yaml-language-server, VS Code).',
    )
    .option('--json', 'same output (always JSON)')
    .action(async (flags: { json?: boolean }) => {
      await runCommand(flags, (ctx) => {
        ctx.printJson(planJsonSchema(cliRegistry()));
        return Promise.resolve(EXIT.ok);
      });
    });
}

/** Prints a described plan (human or JSON). Shared with `cutover run --dry-run`. */
export function printPlan(
  ctx: CommandContext,
  plan: Plan,
  description: PlanDescription,
  databaseUrl: string,
  options: { dryRun?: boolean } = {},
): void {
  if (ctx.json) {
    ctx.printJson({
      ok: description.ok,
      ...(options.dryRun ? { dryRun: true } : {}),
      plan: {
        name: plan.name,
        file: plan.file ?? null,
        hash: plan.hash,
        environment: plan.environment,
        onFailure: plan.onFailure,
        database: redactDatabaseUrl(databaseUrl),
        migrations: plan.migrations ?? null,
        guards: plan.guards,
        webhooks: plan.webhooks.map((w) => ({ url: safeOrigin(w.url), events: w.events })),
        phases: plan.phases.map((p) => ({ name: p.name, irreversible: p.irreversible })),
      },
      steps: description.steps,
    });
    return;
  }
  const shown = plan.file === undefined ? undefined : relative(ctx.cwd, plan.file) || plan.file;
  ctx.out(
    `Plan ${plan.name}${shown ? ` (${shown})` : ''}: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'} in ${plan.phases.length} phase${plan.phases.length === 1 ? '' : 's'}, environment ${plan.environment}, onFailure: ${plan.onFailure}`,
  );
  ctx.out(`Database: ${redactDatabaseUrl(databaseUrl)}`);
  let number = 0;
  for (const phase of plan.phases) {
    ctx.out('');
    ctx.out(
      `Phase ${phase.name}${phase.irreversible ? ' — IRREVERSIBLE: point of no return, rollback refuses once it has started' : ''}`,
    );
    for (const step of description.steps.filter((s) => s.phase === phase.name)) {
      number++;
      ctx.out(`  ${String(number).padStart(2)}. ${step.id}  ${step.kind}`);
      if (step.error !== undefined) {
        ctx.out(`      ✗ cannot describe: ${step.error.message}`);
        if (step.error.hint) ctx.out(`        Fix: ${step.error.hint}`);
        continue;
      }
      const d = step.description!;
      ctx.out(`      ${d.summary}`);
      for (const line of d.details ?? []) ctx.out(`        ${line}`);
      ctx.out(`      compensation: ${d.compensation}`);
    }
  }
  if (plan.guards.length > 0) {
    ctx.out('');
    ctx.out('Guards (validated and recorded with the run; not enforced yet):');
    for (const g of plan.guards) {
      ctx.out(
        `  ${g.name}: ${g.metric} ${g.threshold} for ${formatDuration(g.forMs)} (${g.severity})${g.cohort ? `, cohort flag ${g.cohort.flag}` : ''}`,
      );
    }
  }
  if (plan.webhooks.length > 0) {
    ctx.out('');
    ctx.out('Webhooks (run events):');
    for (const w of plan.webhooks) ctx.out(`  ${safeOrigin(w.url)}: ${w.events.join(', ')}`);
  }
  if (options.dryRun) {
    ctx.out('');
    ctx.out('Dry run: nothing was changed.');
  }
}
