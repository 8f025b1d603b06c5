/**
 * npm run user:create -- --email EMAIL --role viewer|operator|admin [--name NAME] [--password-stdin]
 * Create a dashboard user (the first admin, or any user without the browser). Without
 * --password-stdin a password is generated and printed once; only its bcrypt hash is stored.
 * Passwords never go on the command line.
 */
import { text } from "node:stream/consumers";
import { Command } from "commander";
import { appendAudit } from "@/lib/audit/append-audit";
import { InvalidInputError } from "@/lib/engine/errors";
import { createUser } from "@/lib/users/manage-users";
import { ZChosenPassword, ZEmail, ZRole } from "@/lib/validations/users";
import { openCliSession, runCli } from "./context";

const program = new Command("user:create")
  .description("Create a dashboard user")
  .requiredOption("--email <email>", "their sign-in email")
  .requiredOption("--role <role>", "viewer, operator or admin")
  .option("--name <name>", "a display name")
  .option("--password-stdin", "read the password from standard input instead of generating one")
  .showHelpAfterError()
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

function check<T>(label: string, result: { success: true; data: T } | { success: false; error: { issues: { message: string }[] } }, got?: string): T {
  if (result.success) return result.data;
  throw new InvalidInputError(`${label} ${result.error.issues[0]?.message ?? "is invalid"}${got === undefined ? "" : ` (got ${JSON.stringify(got)})`}`);
}

runCli(async () => {
  program.parse(process.argv);
  const options = program.opts<{ email: string; role: string; name?: string; passwordStdin?: boolean }>();
  const email = check("--email", ZEmail.safeParse(options.email), options.email);
  const role = check("--role", ZRole.safeParse(options.role), options.role);
  let password: string | undefined;
  if (options.passwordStdin) {
    if (process.stdin.isTTY) process.stderr.write("Password (then Enter and Ctrl-D): ");
    password = check("the password on standard input", ZChosenPassword.safeParse((await text(process.stdin)).replace(/\r?\n$/, "")));
  }

  const session = await openCliSession({ requireCatalog: true });
  try {
    const db = session.meta!.db;
    const created = await createUser(db, { email, name: options.name, role, password });
    await appendAudit(db, {
      action: "users.create",
      outcome: "succeeded",
      actorEmail: session.actor.label,
      subject: email,
      details: { role, via: "cli", passwordGenerated: created.generated },
    });
    console.log(`created ${role} ${email} (user #${created.user.id})`);
    if (created.generated) console.log(`password (shown once, store it now): ${created.password}`);
    return 0;
  } finally {
    await session.close();
  }
});
