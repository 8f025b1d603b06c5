import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { identityToRecipient } from "age-encryption";
import { generateKeyPair, readIdentityFile } from "@/lib/engine/crypto/age";
import { parseEnv } from "node:util";
import { generatePassword } from "@/lib/auth/password";

export type SandboxPorts = { demoPort: number; metaPort: number; webPort: number };

/**
 * The sandbox's age key pair: the identity (secret) in a 0600 file, the recipient (public) for
 * .env. Created once; returns the recipient.
 */
export async function ensureAgeIdentity(file: string): Promise<{ recipient: string; created: boolean }> {
  const existing = await readIdentityFile(file).catch(() => undefined);
  if (existing?.[0]) return { recipient: await identityToRecipient(existing[0]), created: false };
  const pair = await generateKeyPair();
  // The folder also holds the clusters, which the `postgres` OS user must reach: 0755; the key file is 0600.
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await writeFile(file, `# Lifeboat age identity: decrypts this sandbox's encrypted backups. Keep a copy somewhere safe.\n${pair.identity}\n`, {
    mode: 0o600,
    flag: "wx",
  });
  return { recipient: pair.recipient, created: true };
}

export const AGE_IDENTITY_FILE = ".lifeboat/age-identity.txt";

/** Settings the quickstart needs; secrets are random per checkout. */
export function sandboxDefaults(ports: SandboxPorts, ageRecipient: string): Record<string, string> {
  const metaPassword = generatePassword();
  return {
    DB_HOST: "127.0.0.1",
    DB_PORT: String(ports.demoPort),
    DB_NAME: "allertify",
    DB_USER: "allertify",
    DB_PASSWORD: generatePassword(),
    DB_TARGET_NAME: "allertify",
    DB_DATA_DIR: ".lifeboat/demo/pgdata",
    DB_PRISMA_SCHEMA: "prisma/schema.prisma",
    DATABASE_URL: `postgres://lifeboat:${metaPassword}@127.0.0.1:${ports.metaPort}/lifeboat`,
    BACKUP_DIR: "./backups",
    AUTH_SECRET: randomBytes(32).toString("base64"),
    LIFEBOAT_AUDIT_KEY: randomBytes(32).toString("base64"),
    LIFEBOAT_SECRETS_KEY: randomBytes(32).toString("base64"),
    NEXTAUTH_URL: `http://localhost:${ports.webPort}`,
    LIFEBOAT_AGE_RECIPIENTS: ageRecipient,
    LIFEBOAT_AGE_IDENTITY_FILE: AGE_IDENTITY_FILE,
  };
}

/**
 * Make sure `file` defines every key of `defaults`: keys the user already set are kept as they
 * are, missing ones are appended. The file is created 0600 (it holds secrets).
 */
/**
 * Replace a value the quickstart itself once wrote and that has since moved (e.g. the demo's
 * schema.prisma, now in prisma/); a value the user chose is left alone.
 */
export async function updateOldDefault(file: string, key: string, from: string, to: string): Promise<boolean> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return false;
  const line = new RegExp(`^${key}=${from.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m");
  if (!line.test(text)) return false;
  await writeFile(file, text.replace(line, `${key}=${to}`), { mode: 0o600 });
  return true;
}

export async function ensureEnvFile(file: string, defaults: Record<string, string>): Promise<{ created: boolean; added: string[] }> {
  const existing = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  const current = existing === undefined ? {} : parseEnv(existing);
  const added = Object.keys(defaults).filter((key) => !(key in current));
  if (existing !== undefined && added.length === 0) return { created: false, added };
  const lines = added.map((key) => `${key}=${quoteEnvValue(defaults[key] ?? "")}`);
  const header = existing === undefined ? "# Written by the Lifeboat quickstart. Holds secrets: keep it out of version control.\n" : "";
  const separator = existing && !existing.endsWith("\n") ? "\n" : "";
  await writeFile(file, `${existing ?? header}${separator}${lines.join("\n")}\n`, { mode: 0o600 });
  return { created: existing === undefined, added };
}

function quoteEnvValue(value: string): string {
  return /^[A-Za-z0-9_./:@+=-]*$/.test(value) ? value : `"${value.replace(/"/g, '\\"')}"`;
}
