import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A script of this installation's bin/ folder: beside this source tree, or (bundled by Next.js) under the working folder. */
export function binScript(name: string): string {
  const beside = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", name);
  return existsSync(beside) ? beside : path.resolve("bin", name);
}
