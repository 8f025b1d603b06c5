import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { PASSWORD_VARIABLE, readPasswordVariable } from "@/lib/env";
import { LifeboatError, UntrustedDataError } from "@/lib/engine/errors";

/**
 * Where a target's password comes from. A target row is untrusted (anyone who can write the
 * metadata database could edit it), so a reference can only name:
 * - `env:DB_PASSWORD` for the default target, `env:LIFEBOAT_TARGET_<NAME>_PASSWORD` for target NAME;
 * - `enc:v1:<iv>.<tag>.<ciphertext>`: AES-256-GCM under LIFEBOAT_SECRETS_KEY, with the target's
 *   name, host, port and user as associated data, so a row edited to point elsewhere cannot be
 *   decrypted and the password is never sent to a host it was not stored for.
 */
export type SecretBinding = { name: string; host: string; port: number; user: string };

export function passwordVariableFor(targetName: string): string {
  return `LIFEBOAT_TARGET_${targetName.toUpperCase().replace(/-/g, "_")}_PASSWORD`;
}

function key(secretsKey: string | undefined): Buffer {
  if (!secretsKey)
    throw new LifeboatError(
      "CONFIGURATION",
      "LIFEBOAT_SECRETS_KEY is required to store or read target passwords in the metadata database (openssl rand -base64 32).",
    );
  const bytes = Buffer.from(secretsKey, "base64");
  if (bytes.length !== 32) throw new LifeboatError("CONFIGURATION", "LIFEBOAT_SECRETS_KEY must be 32 random bytes in base64 (openssl rand -base64 32).");
  return bytes;
}

function associatedData(binding: SecretBinding): Buffer {
  return Buffer.from(JSON.stringify([binding.name, binding.host, binding.port, binding.user]));
}

/** The fields of a target row that act on this host (commands it runs, folders it moves). */
export type HostFields = { name: string; dataDir: string | null; configDir: string | null; control: unknown; osUser: string | null };

export function hasHostFields(fields: HostFields): boolean {
  return fields.dataDir !== null || fields.configDir !== null || (fields.control !== null && fields.control !== undefined) || fields.osUser !== null;
}

/** Seal a target's host fields (HMAC-SHA256 under LIFEBOAT_SECRETS_KEY). */
export function sealHostFields(fields: HostFields, secretsKey: string | undefined): string {
  const content = JSON.stringify([fields.name, fields.dataDir, fields.configDir, fields.control ?? null, fields.osUser]);
  return `hmac:v1:${createHmac("sha256", key(secretsKey)).update(content).digest("base64url")}`;
}

/** Whether a row's host fields still carry the seal they were stored with. */
export function hostFieldsSealed(fields: HostFields, seal: string | null, secretsKey: string | undefined): boolean {
  if (!seal) return false;
  try {
    const expected = Buffer.from(sealHostFields(fields, secretsKey));
    const actual = Buffer.from(seal);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  } catch {
    return false;
  }
}

export function encryptTargetPassword(password: string, binding: SecretBinding, secretsKey: string | undefined): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key(secretsKey), iv);
  cipher.setAAD(associatedData(binding));
  const ciphertext = Buffer.concat([cipher.update(password, "utf8"), cipher.final()]);
  return `enc:v1:${iv.toString("base64url")}.${cipher.getAuthTag().toString("base64url")}.${ciphertext.toString("base64url")}`;
}

/** The password a target row refers to (undefined for none); refuses any reference it was not allowed to make. */
export function resolveTargetPassword(
  ref: string | null | undefined,
  binding: SecretBinding & { isDefault: boolean },
  secretsKey: string | undefined,
): string | undefined {
  if (!ref) return undefined;
  const env = /^env:([A-Z0-9_]+)$/.exec(ref);
  if (env) {
    const name = env[1]!;
    const allowed = binding.isDefault ? ["DB_PASSWORD", passwordVariableFor(binding.name)] : [passwordVariableFor(binding.name)];
    if (!PASSWORD_VARIABLE.test(name) || !allowed.includes(name)) {
      throw new UntrustedDataError(
        `Target ${binding.name} names ${name} as its password variable; only ${allowed.join(" or ")} may hold it. Nothing was read or sent.`,
      );
    }
    const value = readPasswordVariable(name);
    if (value === undefined) throw new LifeboatError("CONFIGURATION", `${name} is not set (the password of target ${binding.name}).`);
    return value;
  }
  const enc = /^enc:v1:([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(ref);
  if (enc) {
    try {
      const decipher = createDecipheriv("aes-256-gcm", key(secretsKey), Buffer.from(enc[1]!, "base64url"));
      decipher.setAAD(associatedData(binding));
      decipher.setAuthTag(Buffer.from(enc[2]!, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(enc[3]!, "base64url")), decipher.final()]).toString("utf8");
    } catch (error) {
      if (error instanceof LifeboatError) throw error;
      throw new UntrustedDataError(
        `The stored password of target ${binding.name} does not match its host, port and user (edited, or stored under another LIFEBOAT_SECRETS_KEY); set it again. Nothing was sent.`,
      );
    }
  }
  throw new UntrustedDataError(
    `Target ${binding.name} has a password reference Lifeboat does not understand; set the password again. Nothing was read or sent.`,
  );
}
