import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { ManagedCluster } from "../../lib/engine/cluster/managed-cluster";
import { LocalCluster } from "../../lib/engine/cluster/local-cluster";
import { countRows, listTables } from "../../lib/engine/logical/catalog-queries";
import { withClient } from "../../lib/engine/pg/server-info";
import { PITR_INSTANCE_MARKER } from "../../lib/engine/pitr/run-pitr";
import { holdsSegment } from "../../lib/engine/wal/wal-names";
import { screenshotPage, signIn } from "../support/fixtures";

// The browser runs in a zone far from UTC, so the picker's local time and the UTC instant differ.
const ZONE = "Asia/Jakarta"; // UTC+7, no daylight saving time
const ZONE_OFFSET_MS = 7 * 3_600_000;
test.use({ timezoneId: ZONE });
test.describe.configure({ mode: "serial" });

const root = path.resolve(import.meta.dirname, "..", "..");
/** Where the worker (cwd: the checkout) puts recovered instances. */
const instancesDir = path.join(root, ".lifeboat", "pitr");

const shop = () => ({
  host: "127.0.0.1",
  port: Number(process.env.E2E_TARGET_PORT),
  database: "shop",
  user: "shop_owner",
  password: process.env.E2E_TARGET_PASSWORD,
});

async function sql<R extends Record<string, unknown>>(text: string, connection = shop()): Promise<R[]> {
  return withClient(connection, async (c) => (await c.query<R>(text)).rows);
}

/** The `datetime-local` value of an instant in ZONE, to the second (Chromium drops ":00" seconds itself). */
function localInput(ms: number): string {
  return new Date(ms + ZONE_OFFSET_MS).toISOString().slice(0, 19).replace(/:00$/, "");
}

async function waitForRun(page: Page, runId: number, timeoutMs: number): Promise<{ status: string; error: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await (await page.request.get(`/api/runs/${runId}`)).json()) as { status: string; error: string | null };
    if (!["queued", "running"].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function instanceFolders(): Promise<string[]> {
  return (await readdir(instancesDir).catch(() => [] as string[])).map((n) => path.join(instancesDir, n));
}

let before: string[] = [];
let firstBaseStartedAt = 0;
/** The moment the first test recovered to (inside the window). */
let pickedMoment = 0;

test.beforeAll(async () => {
  before = await instanceFolders();
});

// Whatever a failed test left running: stop every recovered instance this file started.
test.afterAll(async () => {
  for (const folder of await instanceFolders()) {
    if (before.includes(folder) || !existsSync(path.join(folder, PITR_INSTANCE_MARKER))) continue;
    await new ManagedCluster({ dataDir: path.join(folder, "pgdata"), control: { method: "pg_ctl" } }).stop("immediate").catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }
});

test("[PITR] an admin picks a moment between two marker rows, restores it to a new instance, and its row counts are the database's at that moment", async ({
  page,
}) => {
  test.setTimeout(300_000);
  const target = await LocalCluster.existing({ baseDir: process.env.E2E_TARGET_BASEDIR! });
  if (!target) throw new Error("the e2e target cluster is missing");
  // The operation closes the current WAL segment itself before it plans ("recover to a recent
  // moment"); that needs this grant, which the operation's own message asks for.
  await target.query("grant execute on function pg_switch_wal() to shop_owner");
  await sql("create table if not exists pitr_marker (id serial primary key, label text not null, at timestamptz not null default clock_timestamp())");
  await sql("truncate pitr_marker");

  await signIn(page, "admin");
  // A base backup to recover from (queued like the Backups page does, run by the e2e worker).
  const queued = await page.request.post("/api/operations/backup", { data: { kinds: ["base"] } });
  expect(queued.status()).toBe(202);
  const backup = await waitForRun(page, ((await queued.json()) as { runId: number }).runId, 120_000);
  expect(backup, backup.error ?? "").toMatchObject({ status: "succeeded" });

  await sql("insert into pitr_marker (label) values ('A')");
  // T: a whole second, comfortably after A's commit and before B's.
  const moment = Math.ceil((Date.now() + 1500) / 1000) * 1000;
  while (Date.now() < moment + 1500) await new Promise((r) => setTimeout(r, 100));
  await sql("insert into pitr_marker (label) values ('B')");
  // Every table's rows now: at T the same, except the marker table (B came after T).
  const live = await withClient(shop(), async (c) => countRows(c, await listTables(c)));
  // B's commit reaches the archive: the window then extends past T.
  const segment = (await target.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f"))[0]!.f;
  const archive = path.join(process.env.E2E_BACKUP_DIR!, "shop", "archive");
  await expect.poll(async () => holdsSegment(await readdir(archive), segment), { timeout: 30_000 }).toBe(true);

  await page.goto("/pitr");
  await expect(page.getByTestId("pitr-timeline")).toBeVisible();
  await expect(page.getByTestId("pitr-wal-bar").first()).toBeVisible();
  await expect(page.getByTestId("pitr-base-marker").first()).toBeAttached();
  await expect(page.getByTestId("pitr-now")).toBeAttached();
  firstBaseStartedAt = Date.parse((await page.getByTestId("pitr-stretch").first().getAttribute("data-from"))!);

  const picker = page.getByLabel(`Moment (${ZONE})`);
  await picker.fill(localInput(moment));
  pickedMoment = moment;
  const utc = new Date(moment).toISOString().replace(".000Z", "Z");
  await expect(page.getByTestId("pitr-utc")).toHaveText(`UTC: ${utc}`);
  await expect(page.getByTestId("pitr-refused")).toHaveCount(0);
  await expect(page.getByTestId("pitr-plan-base")).toContainText("base/");
  await expect(page.getByTestId("pitr-plan-wal")).toContainText("segments");

  await page.getByRole("button", { name: "Restore to a new instance" }).click();
  const progress = page.getByTestId("run-progress");
  await expect(progress).toHaveAttribute("data-status", "succeeded", { timeout: 180_000 });
  const instance = page.getByTestId("pitr-new-instance");
  await expect(instance).toBeVisible();
  const port = Number(await instance.getAttribute("data-port"));

  // The preview: A is there, B is not; every other table as it was (nothing else changed since T).
  const counts = page.getByTestId("pitr-row-counts");
  const marker = counts.locator('tr[data-table="public.pitr_marker"]');
  await expect(marker.getByTestId("count-recovered")).toHaveText("1");
  await expect(marker.getByTestId("count-live")).toHaveText("2");
  expect(Object.keys(live).length).toBeGreaterThan(1);
  for (const [table, n] of Object.entries(live)) {
    if (table === "public.pitr_marker") continue;
    await expect(counts.locator(`tr[data-table="${table}"]`).getByTestId("count-recovered")).toHaveText(String(n));
  }
  // The recovered instance itself, asked directly with the target's credentials.
  const recovered = await sql<{ label: string }>("select label from pitr_marker order by id", { ...shop(), port });
  expect(recovered.map((r) => r.label)).toEqual(["A"]);

  // The first rows of the marker table at that moment.
  await page.getByLabel("Table to look into").selectOption("public.pitr_marker");
  await page.getByRole("button", { name: "Show first rows" }).click();
  const firstRows = page.getByTestId("pitr-first-rows");
  await expect(firstRows.locator("tbody tr")).toHaveCount(1);
  await expect(firstRows.locator("tbody")).toContainText("A");
  await expect(firstRows.locator("tbody")).not.toContainText("B");

  // In place shows what it would lose, beside today's counts, and waits for the typed name.
  const inPlace = page.getByTestId("pitr-in-place");
  await expect(inPlace.getByTestId("pitr-loss-table").locator('tr[data-table="public.pitr_marker"]')).toContainText("loses 1");
  await expect(inPlace.getByRole("button", { name: "Recover shop in place" })).toBeDisabled();
  await inPlace.getByLabel("Type shop to confirm").fill("sho");
  await expect(inPlace.getByRole("button", { name: "Recover shop in place" })).toBeDisabled();
  await screenshotPage(page, "pitr");

  // After a reload the instance is still listed; stop it from there: nothing is left on its port.
  await page.reload();
  const listed = page.getByTestId("pitr-instance").filter({ hasText: `127.0.0.1:${port}` });
  await expect(listed).toContainText("running");
  await listed.getByRole("button", { name: "Look into" }).click();
  await listed.getByRole("button", { name: "Stop and remove this instance" }).click();
  await expect(listed.getByTestId("pitr-instance-message")).toContainText("Stopped the recovered instance");
  await expect(listed).toContainText("stopped and removed");
  await expect(sql("select 1", { ...shop(), port })).rejects.toThrow();
  await page.reload();
  await expect(page.getByTestId("pitr-timeline")).toBeVisible();
  await expect(page.getByTestId("pitr-instances")).toHaveCount(0);
});

test("[PITR] a moment outside the window cannot be submitted, and the server says why", async ({ page }) => {
  await signIn(page, "admin");
  await page.goto("/pitr");
  const picker = page.getByLabel(`Moment (${ZONE})`);
  const submit = page.getByRole("button", { name: "Restore to a new instance" });

  // Before the end of the first base backup.
  expect(firstBaseStartedAt).toBeGreaterThan(0);
  await picker.fill(localInput(firstBaseStartedAt - 3_600_000));
  await expect(page.getByTestId("pitr-refused")).toContainText("before the end of the first base backup");
  await expect(submit).toBeDisabled();
  await expect(page.getByTestId("pitr-plan-refused")).toContainText("outside what can be recovered");

  // In the future.
  await picker.fill(localInput(Date.now() + 86_400_000));
  await expect(page.getByTestId("pitr-refused")).toContainText("in the future");
  await expect(submit).toBeDisabled();
  await expect(page.getByTestId("pitr-plan-refused")).toContainText("is in the future");
  // Pressing Enter in the picker submits nothing either.
  await picker.press("Enter");
  await expect(page.getByTestId("run-progress")).toHaveCount(0);
});

test("[PITR] a damaged base backup: the server refuses the moment with the operation's reason, and nothing is queued", async ({ page }) => {
  const baseDir = path.join(process.env.E2E_BACKUP_DIR!, "shop", "base");
  const [base] = await readdir(baseDir);
  const pinned = path.join(baseDir, base!, "backup_manifest");
  const original = await readFile(pinned);
  await writeFile(pinned, Buffer.concat([original, Buffer.from("\n")]));
  try {
    await signIn(page, "admin");
    await page.goto("/pitr");
    expect(pickedMoment).toBeGreaterThan(0);
    await page.getByLabel(`Moment (${ZONE})`).fill(localInput(pickedMoment));
    // Inside the window as drawn, so the page lets it through; the server checks the backup itself.
    await expect(page.getByTestId("pitr-refused")).toHaveCount(0);
    await expect(page.getByTestId("pitr-plan-refused")).toContainText(`The base backup base/${base} is damaged`);
    await page.getByRole("button", { name: "Restore to a new instance" }).click();
    await expect(page.getByTestId("pitr-request-error")).toContainText(`The base backup base/${base} is damaged`);
    await expect(page.getByTestId("run-progress")).toHaveCount(0);
  } finally {
    await writeFile(pinned, original);
  }
});

test("[PITR] a viewer sees the window but no restore controls, and cannot queue a PITR", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto("/pitr");
  await expect(page.getByTestId("pitr-timeline")).toBeVisible();
  await expect(page.getByTestId("pitr-wal-bar").first()).toBeVisible();
  await expect(page.getByTestId("pitr-stretch").first()).toBeVisible();
  await expect(page.getByTestId("pitr-read-only")).toBeVisible();
  await expect(page.getByTestId("pitr-workbench")).toHaveCount(0);
  await expect(page.getByRole("button", { name: /Restore|Recover/ })).toHaveCount(0);
  const refused = await page.request.post("/api/operations/pitr", { data: { latest: true, mode: "new-instance" } });
  expect(refused.status()).toBe(403);
});
