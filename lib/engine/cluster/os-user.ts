import { execFile } from "node:child_process";
import { chown } from "node:fs/promises";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** PostgreSQL refuses to run as root; when Lifeboat runs as root, clusters run as this OS user. */
export const CLUSTER_OS_USER = "postgres";

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export type OsUser = { uid: number; gid: number; name: string };

let clusterUser: Promise<OsUser> | undefined;

export function clusterOsUser(): Promise<OsUser> {
  clusterUser ??= (async () => {
    try {
      const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
        execFileAsync("id", ["-u", CLUSTER_OS_USER]),
        execFileAsync("id", ["-g", CLUSTER_OS_USER]),
      ]);
      return { uid: Number(uid.trim()), gid: Number(gid.trim()), name: CLUSTER_OS_USER };
    } catch {
      throw new Error(
        `Running as root, but there is no '${CLUSTER_OS_USER}' OS user to run PostgreSQL as. ` +
          `Create one (useradd --system ${CLUSTER_OS_USER}) or run Lifeboat as an ordinary user.`,
      );
    }
  })();
  return clusterUser;
}

/** Give a path to the cluster's OS user when running as root; a no-op otherwise. */
export async function handToClusterUser(...paths: string[]): Promise<void> {
  if (!isRoot()) return;
  const user = await clusterOsUser();
  for (const p of paths) await chown(p, user.uid, user.gid);
}

/** Command and arguments that run `file args` as the cluster's OS user when we are root. */
export function asClusterUser(file: string, args: readonly string[]): { file: string; args: string[] } {
  if (!isRoot()) return { file, args: [...args] };
  return { file: "runuser", args: ["-u", CLUSTER_OS_USER, "--", file, ...args] };
}
