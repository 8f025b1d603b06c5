/**
 * npm run offsite -- push [--target NAME]     every local backup the bucket lacks, then new WAL
 * npm run offsite -- status [--target NAME]   what the bucket holds and how far its WAL lags
 * npm run repo:check [-- --target NAME] [--deep]
 *   every manifest's objects present in the bucket with the size and sha256 it lists (--deep:
 *   downloaded and hashed); exit 1 naming each problem.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { InvalidInputError } from "@/lib/engine/errors";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import { formatBytes } from "@/lib/format";
import { offsitePushOperation } from "@/lib/operations/offsite";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, runFromCli, type CliSession } from "./context";

async function mirrored(session: CliSession, name: string | undefined): Promise<MirroredRepository> {
  const target = await resolveTarget({ env: session.env, db: session.meta?.db, name });
  if (!(target.repository instanceof MirroredRepository))
    throw new InvalidInputError(
      "No off-site repository is configured: set LIFEBOAT_S3_BUCKET (and LIFEBOAT_S3_ENDPOINT for storage other than AWS); README: Off-site copies.",
    );
  return target.repository;
}

const program = new Command("offsite").description("Off-site copies in S3-compatible object storage").showHelpAfterError();

program
  .command("push")
  .description("copy every local backup the bucket lacks, then the WAL archived since the last push")
  .option("--target <name>", "target (default: the one from DB_*)")
  .action(async (opts: { target?: string }) => {
    const session = await openCliSession();
    try {
      const outcome = await runFromCli(session, offsitePushOperation, { target: opts.target });
      const r = outcome.result;
      if (r)
        console.log(
          `${r.description}: ${r.pushed.length} backups uploaded${r.pushed.length ? ` (${r.pushed.join(", ")})` : ""}, ${r.already} already there${r.retired ? `, ${r.retired} not sent again (the bucket's retention removed them)` : ""}, ${r.walShipped} WAL files shipped${r.removedLocally.length ? `; ${r.removedLocally.length} local copies removed (object storage only)` : ""}`,
        );
      process.exitCode = outcome.exitCode;
    } finally {
      await session.close();
    }
  });

program
  .command("status")
  .description("what the bucket holds, and how far its WAL is behind the local archive")
  .option("--target <name>", "target (default: the one from DB_*)")
  .action(async (opts: { target?: string }) => {
    const session = await openCliSession();
    try {
      const repository = await mirrored(session, opts.target);
      await repository.offsite.store.check();
      const { artifacts } = await repository.listing("offsite").list();
      const lag = await repository.offsite.walLag(repository.archiveDir);
      console.log(`repository:     ${repository.offsite.description}${repository.keepLocal ? " (and the local folder)" : " (object storage only)"}`);
      console.log(
        `backups there:  ${artifacts.length} (${formatBytes(artifacts.reduce((s, a) => s + a.manifest.sizeBytes, 0))}); newest ${artifacts[0]?.manifest.artifact ?? "none"}`,
      );
      console.log(`WAL there:      newest ${lag.newestShipped ?? "none"}`);
      console.log(`off-site lag:   ${lag.pendingFiles === 0 ? "none" : `${lag.lagSeconds} s (${lag.pendingFiles} archived files not shipped yet)`}`);
      process.exitCode = 0;
    } finally {
      await session.close();
    }
  });

program
  .command("check")
  .description("every manifest's objects present with the size and sha256 it lists (npm run repo:check)")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--deep", "download every object and hash it")
  .action(async (opts: { target?: string; deep?: boolean }) => {
    const session = await openCliSession();
    const scratch = await mkdtemp(path.join(os.tmpdir(), "lifeboat-check-"));
    try {
      const repository = await mirrored(session, opts.target);
      await repository.offsite.store.check();
      const result = await repository.offsite.check({ deep: opts.deep, scratchDir: scratch });
      for (const problem of result.problems) console.log(`PROBLEM  ${problem}`);
      console.log(
        result.problems.length
          ? `${repository.offsite.description}: ${result.problems.length} problem(s) in ${result.artifacts} backups`
          : `${repository.offsite.description}: ${result.artifacts} backups, every object present and matching${opts.deep ? " (downloaded and hashed)" : ""}`,
      );
      process.exitCode = result.problems.length ? 1 : 0;
    } finally {
      await rm(scratch, { recursive: true, force: true });
      await session.close();
    }
  });

runCli(async () => {
  await program.parseAsync();
  return typeof process.exitCode === "number" ? process.exitCode : 0;
});
