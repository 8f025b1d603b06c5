import { createReadStream } from "node:fs";
import { chmod, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { extract } from "tar";
import { decryptStream } from "../crypto/age";
import { RestoreRefusedError } from "../errors";
import type { Repository } from "../repository/repository";

/**
 * Decrypt an environment backup into a new or empty folder for a person to apply. It never
 * touches live configuration: the folder must not hold anything yet. What it writes holds secrets,
 * so files are 0600 and folders 0700 whatever the archive says.
 */
export async function restoreEnvironment(options: {
  repository: Repository;
  fileName: string;
  outDir: string;
  identities: string[];
}): Promise<{ file: string; outDir: string; entries: string[] }> {
  const { path: file } = await options.repository.checkForRestore(options.fileName, "env");
  const artifact = path.basename(file);

  const outDir = path.resolve(options.outDir);
  const existing = await readdir(outDir).catch(() => undefined);
  if (existing && existing.length > 0) throw new RestoreRefusedError(`${outDir} is not empty; choose a new folder with --out (nothing was written).`);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await chmod(outDir, 0o700);

  const entries: string[] = [];
  const plain = await decryptStream(createReadStream(file), options.identities);
  await pipeline(
    plain,
    extract({
      cwd: outDir,
      strict: true,
      // Never follow links or leave the folder, whatever the archive holds; modes are ours, not the archive's.
      preservePaths: false,
      noChmod: true,
      dmode: 0o700,
      fmode: 0o600,
      filter: (entryPath, entry) => {
        const type = "type" in entry ? entry.type : undefined;
        const ok = (type === "File" || type === "Directory") && !entryPath.split("/").includes("..");
        if (ok && type === "File") entries.push(entryPath);
        return ok;
      },
    }),
  );
  await tighten(outDir);
  return { file: artifact, outDir, entries };
}

async function tighten(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await chmod(full, 0o700);
      await tighten(full);
    } else if (entry.isFile()) {
      await chmod(full, 0o600);
    }
  }
}
