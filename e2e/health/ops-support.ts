import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect, type Page } from "@playwright/test";
import pg from "pg";
import { LocalCluster } from "../../lib/engine/cluster/local-cluster";
import { createDb } from "../../lib/db/client";
import { parseEnv } from "../../lib/env";
import { sampleTargetArchiver } from "../../lib/health/sample-target";
import { resolveTarget } from "../../lib/targets/resolve-target";

/** Helpers shared by the overview, health and settings specs. */

type RunBody = { id: number; status: string; error: string | null; result: Record<string, unknown> | null };

/** Queue an operation as the signed-in user, through the same pipeline as the pages (POST /api/operations/[kind]); the e2e worker runs it. */
export async function queueOperation(page: Page, kind: string, input: Record<string, unknown>): Promise<number> {
  const response = await page.request.post(`/api/operations/${kind}`, { data: input });
  const body = (await response.json()) as { runId?: number; error?: string };
  expect(response.status(), body.error).toBe(202);
  return body.runId!;
}

export async function waitForRun(page: Page, runId: number, timeoutMs = 120_000): Promise<RunBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await (await page.request.get(`/api/runs/${runId}`)).json()) as RunBody;
    if (["succeeded", "failed", "canceled", "interrupted"].includes(run.status)) {
      expect(run.status, `run ${runId}: ${run.error ?? ""}`).toBe("succeeded");
      return run;
    }
    if (Date.now() > deadline) throw new Error(`run ${runId} is still ${run.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A query on the e2e metadata database. */
export async function metadataQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: process.env.E2E_METADATA_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * One archiver sample of the e2e target, taken by the same function the worker calls every minute
 * (lib/health/sample-target.ts: pg_stat_archiver, the backlog, the exposure read from the archive),
 * with the dashboard's configuration: a real reading, recorded now instead of a minute from now.
 */
export async function recordArchiverSample(): Promise<void> {
  const env = parseEnv({
    DATABASE_URL: process.env.E2E_METADATA_URL,
    DB_HOST: "127.0.0.1",
    DB_PORT: process.env.E2E_TARGET_PORT,
    DB_NAME: "shop",
    DB_USER: "shop_owner",
    DB_PASSWORD: process.env.E2E_TARGET_PASSWORD,
    DB_TARGET_NAME: "shop",
    BACKUP_DIR: process.env.E2E_BACKUP_DIR,
  });
  const handle = createDb(env.DATABASE_URL, { max: 1 });
  try {
    const target = await resolveTarget({ env, db: handle.db });
    await sampleTargetArchiver({ db: handle.db, env, target });
  } finally {
    await handle.close();
  }
}

/** A server action's id, from the build's manifest (to call it as a page would, without its button). */
export async function serverActionId(exportedName: string, file: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.resolve(import.meta.dirname, "..", "..", ".next", "server", "server-reference-manifest.json"), "utf8")) as {
    node: Record<string, { filename: string; exportedName: string }>;
  };
  const entry = Object.entries(manifest.node).find(([, v]) => v.exportedName === exportedName && v.filename === file);
  if (!entry) throw new Error(`no server action ${exportedName} in ${file}`);
  return entry[0];
}

/** Call a server action directly, as the browser does (Next-Action header, arguments as JSON); returns the raw response text. */
export async function callServerAction(page: Page, pagePath: string, actionId: string, args: unknown[]): Promise<string> {
  const response = await page.request.post(pagePath, {
    headers: { "Next-Action": actionId, "Content-Type": "text/plain;charset=UTF-8", Accept: "text/x-component" },
    data: JSON.stringify(args),
  });
  return response.text();
}

/** The `d` of every drawn series in a chart (lines and bars, not the legend's icons). */
export async function seriesPaths(page: Page, chartTestId: string): Promise<string[]> {
  return page
    .getByTestId(chartTestId)
    .locator("svg.recharts-surface path.recharts-curve, svg.recharts-surface .recharts-bar-rectangle path")
    .evaluateAll((paths) => paths.map((p) => p.getAttribute("d") ?? ""));
}

/** Write a WAL record and switch segments, then wait until the archive has received it (so the archiver has something to report). */
export async function archiveASegment(label: string): Promise<void> {
  const cluster = await LocalCluster.existing({ baseDir: process.env.E2E_TARGET_BASEDIR! });
  if (!cluster) throw new Error("the e2e target cluster is missing");
  const archived = async () => Number((await cluster.query<{ n: string }>("select archived_count::text as n from pg_stat_archiver"))[0]!.n);
  const before = await archived();
  await cluster.query("select pg_create_restore_point($1)", [label]);
  await cluster.query("select pg_switch_wal()");
  await expect.poll(archived, { timeout: 30_000, message: "a switched WAL segment reaches the archive" }).toBeGreaterThan(before);
}

/** The first page a test opens after the server started can be clicked before it is interactive: load it once first. */
export async function warmUp(page: Page): Promise<void> {
  await page.goto("/signin");
  await page.waitForLoadState("networkidle");
}
