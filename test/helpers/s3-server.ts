import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { findFreePort } from "@/lib/engine/cluster/free-port";

/** The credentials s3rver accepts (it checks the key id; it does not verify SigV4 signatures). */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export type TestS3Server = {
  endpoint: string;
  port: number;
  dir: string;
  bucket: string;
  /** Keys of every object stored since the server started, in order (repeats included). */
  puts: string[];
  stop: (signal?: NodeJS.Signals) => Promise<void>;
};

/** Start s3rver on 127.0.0.1 with one bucket; its objects live in `dir` (a restart on the same dir keeps them). */
export async function startS3Server(options: { dir: string; bucket: string; port?: number }): Promise<TestS3Server> {
  const port = options.port ?? (await findFreePort());
  // s3rver's continuation tokens (listings past 1,000 keys) use DES, which Node's OpenSSL 3 only has in its legacy provider.
  const script = [path.join(import.meta.dirname, "s3rver-process.mjs"), options.dir, String(port), options.bucket];
  const child: ChildProcess = spawn(process.execPath, ["--openssl-legacy-provider", ...script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const puts: string[] = [];
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
    let buffer = "";
    child.stdout!.on("data", (d: Buffer) => {
      buffer += d.toString();
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith("ready ")) {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith("put ")) puts.push(line.slice(4));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}): ${stderr}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir: options.dir,
    bucket: options.bucket,
    puts,
    stop: (signal = "SIGTERM") =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
}
