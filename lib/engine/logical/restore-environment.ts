import { createReadStream } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { extract } from "tar";
import { decryptStream } from "../crypto/age";
import { checkArtifact, RestoreRefusedError } from "./restore-full";

/**
 * Decrypt an environment backup into a new or empty folder for a person to apply. It never
 * touches live configuration: the folder must not hold anything yet.
 */
export async function restoreEnvironment(options: {
  targetDir: string;
  fileName: string;
  outDir: string;
  identities: string[];
}): Promise<{ file: string; outDir: string; entries: string[] }> {
  const { path: file } = await checkArtifact(options.targetDir, options.fileName, "env");
  const artifact = path.basename(file);

  const outDir = path.resolve(options.outDir);
  const existing = await readdir(outDir).catch(() => undefined);
  if (existing && existing.length > 0) throw new RestoreRefusedError(`${outDir} is not empty; choose a new folder with --out (nothing was written).`);
  await mkdir(outDir, { recursive: true, mode: 0o700 });

  const entries: string[] = [];
  const plain = await decryptStream(createReadStream(file), options.identities);
  await pipeline(
    plain,
    extract({
      cwd: outDir,
      strict: true,
      // Never follow links or leave the folder, whatever the archive holds.
      preservePaths: false,
      filter: (entryPath, entry) => {
        const type = "type" in entry ? entry.type : undefined;
        const ok = (type === "File" || type === "Directory") && !entryPath.split("/").includes("..");
        if (ok && type === "File") entries.push(entryPath);
        return ok;
      },
    }),
  );
  return { file: artifact, outDir, entries };
}
