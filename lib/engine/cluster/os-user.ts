import { chown } from "node:fs/promises";
import { LifeboatError } from "../errors";
import { execChild } from "../process/spawn-child";

/** PostgreSQL refuses to run as root; when Lifeboat runs as root, clusters run as this OS user unless a target names another. */
export const CLUSTER_OS_USER = "postgres";

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export type OsUser = { uid: number; gid: number; name: string };

const users = new Map<string, Promise<OsUser>>();

export function osUser(name: string = CLUSTER_OS_USER): Promise<OsUser> {
  if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(name)) return Promise.reject(new LifeboatError("INVALID_INPUT", `${JSON.stringify(name)} is not an OS user name`));
  let found = users.get(name);
  if (!found) {
    found = (async () => {
      try {
        const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
          execChild("id", ["-u", name], { timeoutMs: 10_000 }),
          execChild("id", ["-g", name], { timeoutMs: 10_000 }),
        ]);
        return { uid: Number(uid.trim()), gid: Number(gid.trim()), name };
      } catch (error) {
        throw new LifeboatError(
          "OS_USER_MISSING",
          `Running as root, but there is no '${name}' OS user to run PostgreSQL as. Create one (useradd --system ${name}) or run Lifeboat as an ordinary user.`,
          {},
          { cause: error },
        );
      }
    })();
    users.set(name, found);
  }
  return found;
}

/** The default cluster OS user (postgres). */
export function clusterOsUser(): Promise<OsUser> {
  return osUser(CLUSTER_OS_USER);
}

/** Give paths to a cluster's OS user when running as root; a no-op otherwise. */
export async function handToOsUser(name: string, ...paths: string[]): Promise<void> {
  if (!isRoot()) return;
  const user = await osUser(name);
  for (const p of paths) await chown(p, user.uid, user.gid);
}

/** Give paths to the default cluster OS user (postgres) when running as root. */
export function handToClusterUser(...paths: string[]): Promise<void> {
  return handToOsUser(CLUSTER_OS_USER, ...paths);
}

/** Command and arguments that run `file args` as a cluster's OS user when we are root. */
export function asOsUser(name: string, file: string, args: readonly string[]): { file: string; args: string[] } {
  if (!isRoot()) return { file, args: [...args] };
  return { file: "runuser", args: ["-u", name, "--", file, ...args] };
}

export function asClusterUser(file: string, args: readonly string[]): { file: string; args: string[] } {
  return asOsUser(CLUSTER_OS_USER, file, args);
}
