import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { decryptStream, encryptStream } from "../crypto/age";
import { LifeboatError } from "../errors";

/** Where the off-site copies live: any S3-compatible object storage. */
export type ObjectStoreConfig = {
  /** e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000; undefined: AWS's own. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Every key starts with this folder (no leading or trailing slash). */
  prefix: string;
  forcePathStyle: boolean;
  /** Undefined: the AWS SDK's own chain (AWS_ACCESS_KEY_ID, ~/.aws/credentials, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
};

/** An object as listed: its key relative to the prefix, its size, and the sha256 Lifeboat stored with it. */
export type StoredObject = { name: string; size: number };

export class ObjectStoreError extends LifeboatError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("OBJECT_STORE", message, details);
  }
}

/** Multipart part size: memory stays near queueSize × this whatever the file's size. */
const PART_SIZE = 16 * 1024 * 1024;
const QUEUE_SIZE = 2;

/**
 * The object storage as Lifeboat uses it: whole files in and out, each with the sha256 of its
 * bytes recorded as object metadata on upload and checked on download. Every key is relative to
 * the configured prefix. Errors come out as one sentence a person can act on; credentials never
 * appear in them.
 */
export class ObjectStore {
  private readonly client: S3Client;

  constructor(readonly config: ObjectStoreConfig) {
    // Lifeboat supports Node 20.19+ with the SDK version its lockfile pins; the SDK's multi-line
    // notice about later versions would otherwise be printed by every command that reaches the bucket.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: config.credentials,
      // Plain checksums only when the API requires them: S3-compatible servers other than AWS
      // often reject the SDK's newer trailing checksums. Lifeboat checks sha256 itself.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 4,
    });
  }

  /** For people: s3://bucket/prefix at the endpoint. */
  get description(): string {
    return this.describe("");
  }

  /** For people: s3://bucket/prefix/name, at the endpoint when it is not AWS's. */
  describe(name: string): string {
    const key = [this.config.prefix, name].filter(Boolean).join("/");
    return `s3://${this.config.bucket}/${key}${this.config.endpoint ? ` at ${this.config.endpoint}` : ""}`;
  }

  key(name: string): string {
    return this.config.prefix ? `${this.config.prefix}/${name}` : name;
  }

  /** The bucket is reachable and these credentials may use it; otherwise one clear line why not. */
  async check(): Promise<void> {
    await this.call("reach the bucket", () => this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket })));
  }

  /**
   * Upload a local file (streamed; multipart above one part, so memory stays bounded), hashing
   * what is sent. With `expectSha256`, a file whose bytes no longer match (damaged since it was
   * written) is refused and the upload aborted: the bucket never receives a bad copy. With
   * `recipients`, the bytes are encrypted (age) in the stream before they leave the host: the
   * bucket holds only ciphertext, and the object's metadata records the plain file's sha256 and
   * size (what its manifest lists), so listings and checks need no key.
   */
  async putFile(
    name: string,
    file: string,
    options: { expectSha256?: string | undefined; signal?: AbortSignal | undefined; recipients?: string[] | undefined } = {},
  ): Promise<{ sha256: string; size: number }> {
    const hash = createHash("sha256");
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    // The sha256 is stored as metadata, so it must be known before the upload completes: the
    // manifest's when there is one (checked against what was sent, after), else a first pass.
    const sha256 = options.expectSha256 ?? (await sha256Of(file));
    // Opened before the upload starts, so a missing or unreadable file is a plain error here; a
    // read error later is passed on to the body (pipe() would drop it and crash the process).
    const source = createReadStream(file);
    await new Promise<void>((resolve, reject) => source.once("open", () => resolve()).once("error", reject)).catch((error: unknown) => {
      throw new ObjectStoreError(`${name} cannot be read for upload: ${(error as Error).message}`);
    });
    source.once("error", (error) => hashing.destroy(error));
    let body: Readable = source.pipe(hashing);
    const metadata: Record<string, string> = { sha256 };
    if (options.recipients) {
      body = await encryptStream(body, options.recipients).catch(async (error: unknown) => {
        source.destroy();
        throw error;
      });
      metadata.encryption = "age";
      metadata["plain-size"] = String((await stat(file)).size);
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key: this.key(name), Body: body, Metadata: metadata },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      await this.call(`upload ${name}`, () => upload.done());
    } finally {
      options.signal?.removeEventListener("abort", abort);
    }
    if (hash.digest("hex") !== sha256) {
      await this.remove([name]).catch(() => undefined);
      throw new ObjectStoreError(
        options.expectSha256
          ? `${name} no longer matches its manifest (sha256 differs); it was not kept in the bucket.`
          : `${name} changed while it was uploaded; upload it again.`,
      );
    }
    return { sha256, size };
  }

  async putText(name: string, text: string): Promise<void> {
    const body = Buffer.from(text);
    const sha256 = createHash("sha256").update(body).digest("hex");
    await this.call(`upload ${name}`, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: this.key(name), Body: body, Metadata: { sha256 } })),
    );
  }

  /**
   * Size and recorded sha256 of the file an object holds (of the plain file when it was encrypted
   * on upload); undefined when there is none.
   */
  async head(name: string): Promise<{ size: number; sha256: string | undefined } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) }));
      const encrypted = head.Metadata?.encryption === "age";
      const plainSize = Number(head.Metadata?.["plain-size"]);
      return { size: encrypted && Number.isSafeInteger(plainSize) ? plainSize : (head.ContentLength ?? 0), sha256: head.Metadata?.sha256 };
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404 && error.name !== "NoSuchBucket") return undefined;
      throw this.explain(`read ${name}`, error);
    }
  }

  /**
   * Download an object to `file` through a temporary name, hashing what arrives: a download whose
   * sha256 differs from `expect.sha256` (or from the one recorded at upload) is removed and refused.
   * An object encrypted on upload is decrypted with `identities` as it arrives (age authenticates
   * every chunk, so altered ciphertext is refused too) and the plain bytes are checked.
   */
  async getFile(
    name: string,
    file: string,
    expect: { sha256?: string | undefined; size?: number | undefined; identities?: string[] | undefined } = {},
  ): Promise<{ sha256: string; size: number }> {
    const response = await this.call(`download ${name}`, () => this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) })));
    const recorded = response.Metadata?.sha256;
    const encrypted = response.Metadata?.encryption === "age";
    const temp = `${file}.lifeboat-download`;
    const hash = createHash("sha256");
    let size = 0;
    try {
      let body = response.Body as Readable;
      if (encrypted) {
        if (!expect.identities?.length) {
          body.destroy();
          throw new ObjectStoreError(`${name} is encrypted (age): set LIFEBOAT_AGE_IDENTITY_FILE to the key that decrypts it.`);
        }
        body = await decryptStream(body, expect.identities);
      }
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(temp, { mode: 0o600 }),
      );
      const sha256 = hash.digest("hex");
      const wanted = expect.sha256 ?? recorded;
      if ((wanted && sha256 !== wanted) || (expect.size !== undefined && size !== expect.size))
        throw new ObjectStoreError(
          `${name} in ${this.description} does not match ${expect.sha256 ? "its manifest" : "the checksum recorded at upload"} (${expect.size !== undefined && size !== expect.size ? `${size} bytes, expected ${expect.size}` : "sha256 differs"}): it was altered or damaged in the bucket, and was not used.`,
        );
      await rename(temp, file);
      return { sha256, size };
    } catch (error) {
      await rm(temp, { force: true });
      if (error instanceof LifeboatError && error.code !== "ENCRYPTION") throw error;
      if (encrypted)
        throw new ObjectStoreError(
          `${name} in ${this.description} cannot be decrypted (${(error as Error).message.replace(/\.$/, "")}): it was altered or damaged in the bucket, or the key is not the one it was encrypted to; it was not used.`,
        );
      throw this.explain(`download ${name}`, error);
    }
  }

  async getText(name: string): Promise<string> {
    const response = await this.call(`read ${name}`, () => this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) })));
    return (await response.Body!.transformToString()) ?? "";
  }

  /** Every object under `folder` (relative to the prefix; `shallow`: not in its subfolders), names relative to the prefix. */
  async list(folder: string, options: { shallow?: boolean } = {}): Promise<StoredObject[]> {
    const prefix = this.key(folder.endsWith("/") ? folder : `${folder}/`);
    const strip = this.config.prefix ? this.config.prefix.length + 1 : 0;
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(`list ${folder}`, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, Delimiter: options.shallow ? "/" : undefined, ContinuationToken: token }),
        ),
      );
      for (const object of page.Contents ?? []) if (object.Key) objects.push({ name: object.Key.slice(strip), size: object.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async remove(names: string[]): Promise<void> {
    for (let i = 0; i < names.length; i += 1000) {
      const batch = names.slice(i, i + 1000);
      await this.call("delete objects", () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.config.bucket, Delete: { Objects: batch.map((n) => ({ Key: this.key(n) })), Quiet: true } })),
      );
    }
  }

  destroy(): void {
    this.client.destroy();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.explain(what, error);
    }
  }

  /** One sentence for a failed request: what Lifeboat tried, what the storage said, what to check. */
  explain(what: string, error: unknown): ObjectStoreError {
    if (error instanceof ObjectStoreError) return error;
    const name = error instanceof Error ? error.name : "";
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
    const where = this.description;
    if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || status === 401 || status === 403)
      return new ObjectStoreError(
        `The object storage refused Lifeboat's credentials (${name || `HTTP ${status}`}) for ${where}: check LIFEBOAT_S3_ACCESS_KEY_ID and LIFEBOAT_S3_SECRET_ACCESS_KEY (or the credentials file) and the bucket's policy.`,
      );
    if (name === "NoSuchBucket" || (status === 404 && what === "reach the bucket"))
      return new ObjectStoreError(`The bucket ${this.config.bucket} does not exist at ${this.config.endpoint ?? "AWS"}: create it, or fix LIFEBOAT_S3_BUCKET.`);
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ECONNRESET" || code === "ETIMEDOUT" || code === "EPIPE" || name === "TimeoutError")
      return new ObjectStoreError(
        `Cannot ${what}: the object storage at ${this.config.endpoint ?? "AWS"} did not answer (${code ?? name}); check LIFEBOAT_S3_ENDPOINT and that it is running.`,
      );
    if (name === "AbortError") return new ObjectStoreError(`The upload of ${what.replace(/^upload /, "")} was stopped.`);
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return new ObjectStoreError(`Cannot ${what} in ${where}: ${message}`);
  }
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

/** Credentials from a file: JSON {accessKeyId, secretAccessKey}, or two lines (key id, secret). */
export async function readCredentialsFile(file: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const text = (await readFile(file, "utf8")).trim();
  try {
    const parsed = JSON.parse(text) as { accessKeyId?: unknown; secretAccessKey?: unknown };
    if (typeof parsed.accessKeyId === "string" && typeof parsed.secretAccessKey === "string")
      return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
  } catch {
    // two lines, below
  }
  const [accessKeyId, secretAccessKey] = text.split(/\r?\n/).map((l) => l.trim());
  if (!accessKeyId || !secretAccessKey)
    throw new ObjectStoreError(`${file} holds no credentials: write JSON {"accessKeyId": …, "secretAccessKey": …} or the key id and the secret on two lines.`);
  return { accessKeyId, secretAccessKey };
}
