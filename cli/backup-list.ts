/**
 * npm run backup:list [-- --json] [--target NAME] [--rescan]
 * The catalog of a target's backups; --rescan rebuilds it from the repository's manifests. When
 * the metadata database is down, lists straight from the manifests.
 */
import { readdir } from "node:fs/promises";
import { Command } from "commander";
import { listArtifacts } from "@/lib/catalog/list-artifacts";
import { rescanRepository } from "@/lib/catalog/rescan-repository";
import { readManifest } from "@/lib/engine/repository/manifest";
import { formatBytes } from "@/lib/format";
import { loadCliContext, runCli, warn } from "./context";

type Row = { kind: string; time: string; file: string; sizeBytes: number; durationMs: number; verified: string; status: string; encrypted: boolean };

const program = new Command("backup:list")
  .description("List a target's backups")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--json", "print JSON")
  .option("--rescan", "rebuild the catalog from the repository's manifests first")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; json?: boolean; rescan?: boolean }>();
  const ctx = await loadCliContext({ target: opts.target });
  try {
    let rows: Row[];
    if (ctx.meta && ctx.target.row) {
      if (opts.rescan) {
        const result = await rescanRepository(ctx.meta.db, ctx.target.row.id, ctx.targetDir);
        warn(
          `rescanned ${ctx.targetDir}: ${result.indexed} indexed, ${result.missing} missing${result.unreadable.length ? `, unreadable: ${result.unreadable.join(", ")}` : ""}`,
        );
      }
      rows = (await listArtifacts(ctx.meta.db, ctx.target.row.id)).map((a) => ({
        kind: a.kind,
        time: a.startedAt.toISOString(),
        file: a.fileName,
        sizeBytes: a.sizeBytes,
        durationMs: a.finishedAt.getTime() - a.startedAt.getTime(),
        verified: a.verifyStatus ? `${a.verifyStatus} ${a.verifiedAt?.toISOString() ?? ""}`.trim() : "never",
        status: a.status,
        encrypted: a.encrypted,
      }));
    } else {
      rows = await listFromRepository(ctx.targetDir);
    }

    if (opts.json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      console.log(`No backups of ${ctx.target.name} yet (npm run backup).`);
      return 0;
    }
    console.log(["KIND", "TIME (UTC)", "SIZE", "DURATION", "VERIFIED", "STATUS", "FILE"].join("\t"));
    for (const r of rows) {
      console.log(
        [
          r.kind,
          r.time.replace("T", " ").replace(/\.\d+Z$/, "Z"),
          formatBytes(r.sizeBytes),
          `${(r.durationMs / 1000).toFixed(1)}s`,
          r.verified,
          r.status,
          r.file,
        ].join("\t"),
      );
    }
    return 0;
  } finally {
    await ctx.close();
  }
});

async function listFromRepository(targetDir: string): Promise<Row[]> {
  const names = (await readdir(targetDir).catch(() => [] as string[])).filter((n) => n.endsWith(".manifest.json") && !n.startsWith("."));
  const rows: Row[] = [];
  for (const name of names) {
    const manifest = await readManifest(targetDir, name.slice(0, -".manifest.json".length)).catch(() => undefined);
    if (!manifest) continue;
    rows.push({
      kind: manifest.kind,
      time: manifest.startedAt,
      file: manifest.artifact,
      sizeBytes: manifest.sizeBytes,
      durationMs: Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt),
      verified: "unknown",
      status: "available",
      encrypted: manifest.encryption !== null,
    });
  }
  return rows.sort((a, b) => b.time.localeCompare(a.time));
}
