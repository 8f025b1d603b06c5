/**
 * npm run target -- list
 * npm run target -- add NAME --host H --port P --database D --user U [--password-stdin | --password-env] [--data-dir DIR] [--config-dir DIR] [--prisma-schema FILE]
 * npm run target -- remove NAME
 * Targets beyond the default one (DB_*). A password typed on stdin is stored sealed (AES-256-GCM
 * under LIFEBOAT_SECRETS_KEY, bound to the name, host, port and user); --password-env stores a
 * reference to LIFEBOAT_TARGET_<NAME>_PASSWORD instead. Passwords never go on the command line.
 */
import path from "node:path";
import { text } from "node:stream/consumers";
import { Command } from "commander";
import { eq } from "drizzle-orm";
import { appendAudit } from "@/lib/audit/append-audit";
import { targets } from "@/lib/db/schema";
import { InvalidInputError } from "@/lib/engine/errors";
import { isTargetName, TARGET_NAME_RULE } from "@/lib/engine/repository/artifact-kinds";
import { listTargets } from "@/lib/targets/resolve-target";
import { parseControl } from "@/lib/engine/cluster/managed-cluster";
import { encryptTargetPassword, hasHostFields, passwordVariableFor, sealHostFields } from "@/lib/targets/target-secrets";
import { openCliSession, runCli, type CliSession } from "./context";

let exitCode = 0;
const program = new Command("target").description("Manage the targets Lifeboat backs up").showHelpAfterError();

async function withSession(fn: (session: CliSession) => Promise<void>): Promise<void> {
  const session = await openCliSession({ requireCatalog: true });
  try {
    await fn(session);
  } finally {
    await session.close();
  }
}

program
  .command("list")
  .description("list every target")
  .action(() =>
    withSession(async (session) => {
      const rows = await listTargets(session.meta!.db);
      console.log(["NAME", "ADDRESS", "DATA DIRECTORY", "PASSWORD"].join("\t"));
      for (const t of rows) {
        const password = !t.passwordRef ? "none" : t.passwordRef.startsWith("enc:") ? "stored (sealed)" : t.passwordRef.replace(/^env:/, "from ");
        console.log([t.name, `${t.username}@${t.host}:${t.port}/${t.database}`, t.dataDir ?? "-", password].join("\t"));
      }
    }),
  );

program
  .command("add")
  .description("add or update a target")
  .argument("<name>", "lowercase letters, digits, '-' and '_' (its folder in the repository)")
  .requiredOption("--host <host>")
  .requiredOption("--port <port>")
  .requiredOption("--database <name>")
  .requiredOption("--user <name>")
  .option("--password-stdin", "read the password from standard input and store it sealed")
  .option("--password-env", "read the password at run time from LIFEBOAT_TARGET_<NAME>_PASSWORD")
  .option("--data-dir <dir>", "the cluster's data directory when it runs on this host (enables in-place PITR)")
  .option("--config-dir <dir>", "its configuration directory when outside the data directory")
  .option("--os-user <name>", "the OS user its server runs as (default postgres)")
  .option("--control <how>", "how to stop and start it: pg_ctl, pg_ctlcluster:15/main, systemd:<unit>, or command")
  .option("--start-command <json>", 'with --control command: a JSON argument array, e.g. ["systemctl","start","pg"]')
  .option("--stop-command <json>", "with --control command: a JSON argument array")
  .option("--prisma-schema <file>", "the app's schema.prisma, for JSON export names")
  .action(
    (
      name: string,
      opts: {
        host: string;
        port: string;
        database: string;
        user: string;
        passwordStdin?: boolean;
        passwordEnv?: boolean;
        dataDir?: string;
        configDir?: string;
        osUser?: string;
        control?: string;
        startCommand?: string;
        stopCommand?: string;
        prismaSchema?: string;
      },
    ) =>
      withSession(async (session) => {
        if (!isTargetName(name)) throw new InvalidInputError(`${JSON.stringify(name)} is not a target name (${TARGET_NAME_RULE}).`);
        if (name === session.env.DB_TARGET_NAME) throw new InvalidInputError(`${name} is the default target; it is configured by DB_* in .env.`);
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidInputError("--port must be a port number");
        if (opts.passwordStdin && opts.passwordEnv) throw new InvalidInputError("choose --password-stdin or --password-env, not both");
        const db = session.meta!.db;
        const [current] = await db.select().from(targets).where(eq(targets.name, name));
        // Without a password option an update keeps the stored one (unless the address changed: a
        // sealed password is bound to host, port and user and must be given again).
        let passwordRef: string | null = current?.passwordRef ?? null;
        if (passwordRef?.startsWith("enc:") && (current?.host !== opts.host || current.port !== port || current.username !== opts.user)) passwordRef = null;
        if (opts.passwordEnv) passwordRef = `env:${passwordVariableFor(name)}`;
        if (opts.passwordStdin) {
          const password = (await text(process.stdin)).replace(/\r?\n$/, "");
          if (!password) throw new InvalidInputError("no password on standard input");
          passwordRef = encryptTargetPassword(password, { name, host: opts.host, port, user: opts.user }, session.env.LIFEBOAT_SECRETS_KEY);
        }
        const argv = (json: string | undefined, option: string) => {
          if (json === undefined) return undefined;
          try {
            const value: unknown = JSON.parse(json);
            if (Array.isArray(value) && value.length && value.every((v) => typeof v === "string")) return value as string[];
          } catch {
            // reported below
          }
          throw new InvalidInputError(`${option} must be a JSON array of arguments, e.g. ["systemctl","start","postgresql"]`);
        };
        const control = opts.control
          ? parseControl(opts.control, { start: argv(opts.startCommand, "--start-command"), stop: argv(opts.stopCommand, "--stop-command") })
          : null;
        const absolute = (p: string | undefined) => (p ? path.resolve(p) : null);
        const host = { name, dataDir: absolute(opts.dataDir), configDir: absolute(opts.configDir), control, osUser: opts.osUser ?? null };
        const values = {
          name,
          host: opts.host,
          port,
          database: opts.database,
          username: opts.user,
          passwordRef,
          dataDir: host.dataDir,
          configDir: host.configDir,
          control: control as Record<string, unknown> | null,
          osUser: host.osUser,
          // What acts on this host is sealed: a row edited without LIFEBOAT_SECRETS_KEY is refused.
          hostSeal: hasHostFields(host) ? sealHostFields(host, session.env.LIFEBOAT_SECRETS_KEY) : null,
          prismaSchemaPath: absolute(opts.prismaSchema),
          updatedAt: new Date(),
        };
        await db.insert(targets).values(values).onConflictDoUpdate({ target: targets.name, set: values });
        await appendAudit(db, {
          action: "targets.save",
          outcome: "succeeded",
          actorEmail: session.actor.label,
          subject: name,
          details: { host: opts.host, port, database: opts.database },
        });
        console.log(`target ${name} saved (${opts.user}@${opts.host}:${port}/${opts.database}); back it up with: npm run backup -- --target ${name}`);
        if (!passwordRef) console.log("it has no password: add one with --password-stdin or --password-env if the server asks for one");
      }),
  );

program
  .command("remove")
  .description("forget a target (its backups stay in the repository)")
  .argument("<name>")
  .action((name: string) =>
    withSession(async (session) => {
      const db = session.meta!.db;
      const removed = await db.delete(targets).where(eq(targets.name, name)).returning({ id: targets.id });
      if (!removed.length) {
        console.error(`lifeboat: there is no target named ${JSON.stringify(name)}`);
        exitCode = 1;
        return;
      }
      await appendAudit(db, { action: "targets.remove", outcome: "succeeded", actorEmail: session.actor.label, subject: name });
      console.log(`target ${name} removed; its backups stay in the repository`);
    }),
  );

runCli(async () => {
  await program.parseAsync();
  return exitCode;
});
