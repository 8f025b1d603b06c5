import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { LifeboatError } from "../errors";
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";

/**
 * age encryption (age-encryption.org/v1), streamed: any Lifeboat file decrypts with the standard
 * `age -d -i key.txt` outside Lifeboat. Backups are encrypted to public recipients (age1…), so the
 * backup host needs no secret; restores need an identity file (AGE-SECRET-KEY-1…).
 */

export class EncryptionError extends LifeboatError {
  constructor(message: string) {
    super("ENCRYPTION", message);
  }
}

export function parseRecipients(text: string | undefined): string[] {
  const recipients = (text ?? "").split(/[\s,]+/).filter(Boolean);
  for (const r of recipients) {
    if (!/^age1[0-9a-z]{20,}$/.test(r)) throw new EncryptionError(`Not an age recipient: ${r.slice(0, 12)}… (expected age1…)`);
  }
  return recipients;
}

/** Identities (secret keys) from an age identity file, as written by `age-keygen`. */
export async function readIdentityFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new EncryptionError(`Cannot read the age identity file ${file}: set LIFEBOAT_AGE_IDENTITY_FILE to the key that decrypts these backups.`);
  }
  const identities = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
  if (identities.length === 0) throw new EncryptionError(`${file} holds no age identity (AGE-SECRET-KEY-1…).`);
  return identities;
}

export async function generateKeyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** Encrypt a Node stream to the recipients; returns the ciphertext as a Node stream. */
export async function encryptStream(input: Readable, recipients: string[]): Promise<Readable> {
  if (recipients.length === 0) throw new EncryptionError("Encryption is required but no age recipient is configured (LIFEBOAT_AGE_RECIPIENTS).");
  const encrypter = new Encrypter();
  for (const r of recipients) encrypter.addRecipient(r);
  const out = await encrypter.encrypt(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>);
  return Readable.fromWeb(out as unknown as NodeWebReadableStream<Uint8Array>);
}

/**
 * Decrypt a Node stream with the identities. A wrong key fails before any output; altered or
 * truncated ciphertext fails while streaming (age authenticates every 64 KiB chunk).
 */
export async function decryptStream(input: Readable, identities: string[]): Promise<Readable> {
  if (identities.length === 0) throw new EncryptionError("This backup is encrypted: set LIFEBOAT_AGE_IDENTITY_FILE to the key that decrypts it.");
  const decrypter = new Decrypter();
  for (const i of identities) decrypter.addIdentity(i);
  try {
    const out = await decrypter.decrypt(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>);
    return Readable.fromWeb(out as unknown as NodeWebReadableStream<Uint8Array>);
  } catch (error) {
    throw new EncryptionError(`Cannot decrypt: ${(error as Error).message} (wrong key, or not an age file)`);
  }
}
