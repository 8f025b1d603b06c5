import { expect, type Browser, type Page } from "@playwright/test";
import pg from "pg";
import { credentials, signIn, type E2ERole } from "../support/fixtures";

/**
 * signIn, patient with the first sign-in of a run: on a busy machine the cold server (first
 * database connection, bcrypt) can take longer than the fixture's 5 s wait for the header.
 */
export async function signInAs(page: Page, role: E2ERole): Promise<void> {
  try {
    await signIn(page, role);
  } catch {
    await expect(page.getByTestId("signed-in-as")).toContainText(credentials(role).email, { timeout: 30_000 });
  }
}

/** A query on the throwaway metadata database global-setup made. */
export async function metaQuery<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: process.env.E2E_METADATA_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A query on the demo database (shop) of the target cluster, as its owner. */
export async function shopQuery<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: Number(process.env.E2E_TARGET_PORT),
    database: "shop",
    user: "shop_owner",
    password: process.env.E2E_TARGET_PASSWORD,
  });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export type CatalogArtifact = { id: string; file_name: string; kind: string; manifest: { tableRowCounts?: Record<string, number> } };

/** The newest available artifact of a kind in the catalog. */
export async function newestArtifact(kind: string): Promise<CatalogArtifact | undefined> {
  const rows = await metaQuery<CatalogArtifact>(
    "select id::text, file_name, kind::text, manifest from backup_artifacts where kind = $1 and status = 'available' order by started_at desc, id desc limit 1",
    [kind],
  );
  return rows[0];
}

/**
 * Make sure the catalog holds a full dump and a JSON export: when it does not (a spec run on its
 * own), an operator queues a backup through the same route the pages use and waits for it.
 */
export async function ensureBackup(browser: Browser): Promise<void> {
  if ((await newestArtifact("full")) && (await newestArtifact("json"))) return;
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signInAs(page, "operator");
    const queued = await page.request.post("/api/operations/backup", { data: {} });
    expect(queued.status()).toBe(202);
    const { runId } = (await queued.json()) as { runId: number };
    await expect
      .poll(async () => ((await (await page.request.get(`/api/runs/${runId}`)).json()) as { status: string }).status, { timeout: 120_000, intervals: [1000] })
      .toBe("succeeded");
  } finally {
    await context.close();
  }
}
