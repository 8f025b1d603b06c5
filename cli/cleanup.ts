/**
 * npm run cleanup [-- --dry-run] [--target NAME] [--days N] [--offsite-days N] [--keep N]
 * Retention: what is deleted (or, with --dry-run, would be), the bytes freed, and the recoverable
 * window before and after.
 */
import { Command, InvalidArgumentError } from "commander";
import { formatBytes } from "@/lib/format";
import type { RetentionPlan, RetentionResult } from "@/lib/engine/retention/plan-retention";
import { cleanupOperation } from "@/lib/operations/cleanup";
import { openCliSession, runCli, runFromCli } from "./context";
import { windowLines } from "./format";

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

const program = new Command("cleanup")
  .description("Delete backups past retention (default 7 days), keeping the newest verified one of each kind and the WAL the kept base backups need")
  .option("--dry-run", "show what would be deleted and the window afterwards; delete nothing")
  .option("--target <name>", "target to clean up (default: the one from DB_*)")
  .option("--days <n>", "keep every kind this many days (default 7)", positive)
  .option("--offsite-days <n>", "the off-site copy keeps every kind this many days (default LIFEBOAT_OFFSITE_RETENTION_DAYS, else --days)", positive)
  .option("--keep <n>", "however old, keep the newest N verified backups of each kind (default 1)", positive)
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ dryRun?: boolean; target?: string; days?: number; offsiteDays?: number; keep?: number }>();
  const session = await openCliSession();
  try {
    const outcome = await runFromCli(session, cleanupOperation, {
      target: opts.target,
      dryRun: opts.dryRun,
      days: opts.days,
      offsiteDays: opts.offsiteDays,
      keepNewest: opts.keep,
    });
    const result = outcome.result;
    if (result) {
      if (result.offsite) console.log(`${result.plan.copy}:`);
      printPlan(result.plan, result.applied, opts.dryRun);
      if (result.offsite) {
        console.log(`${result.offsite.description} (its own retention: ${result.offsite.days} days):`);
        printPlan(result.offsite.plan, result.offsite.applied, opts.dryRun);
      }
      if (result.windowBefore) {
        console.log("recoverable window now:");
        for (const line of windowLines(result.windowBefore)) console.log(`  ${line}`);
      }
      if (result.windowAfter) {
        console.log(opts.dryRun ? "recoverable window after cleanup:" : "recoverable window after:");
        for (const line of windowLines(result.windowAfter)) console.log(`  ${line}`);
      }
      const freed = (plan: RetentionPlan, applied: RetentionResult | null | undefined) => applied?.bytesFreed ?? plan.bytesFreed;
      const total = freed(result.plan, result.applied) + (result.offsite ? freed(result.offsite.plan, result.offsite.applied) : 0);
      console.log(`${opts.dryRun ? "dry run: nothing deleted; would free" : "freed"} ${formatBytes(total)}`);
    }
    return outcome.exitCode;
  } finally {
    await session.close();
  }
});

function printPlan(plan: RetentionPlan, applied: RetentionResult | null | undefined, dryRun: boolean | undefined): void {
  const verb = dryRun ? "would delete" : "deleted";
  for (const d of plan.deletes) console.log(`${verb.padEnd(12)} ${d.artifact}  ${formatBytes(d.sizeBytes)}  (${d.reason})`);
  for (const k of plan.keeps) console.log(`${"keep".padEnd(12)} ${k.artifact}  (${k.reason})`);
  if (plan.walDeletes.length)
    console.log(
      `${verb.padEnd(12)} ${plan.walDeletes.length} WAL file(s), ${plan.walDeletes[0]!.name} to ${plan.walDeletes.at(-1)!.name}  ${formatBytes(plan.walDeletes.reduce((s, w) => s + w.sizeBytes, 0))}`,
    );
  if (plan.walKeptFrom) console.log(`WAL kept from ${plan.walKeptFrom} (the start of ${plan.oldestKeptBase})`);
  for (const note of plan.notes) console.log(`note: ${note}`);
  for (const f of applied?.failed ?? []) console.log(`FAILED       ${f.name}: ${f.error}`);
}
