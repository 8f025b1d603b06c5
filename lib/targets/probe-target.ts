import type { PgConnection } from "@/lib/engine/pg/connection";
import { readServerInfo } from "@/lib/engine/pg/server-info";

export type TargetProbe =
  | {
      ok: true;
      serverVersion: string;
      versionString: string;
      inRecovery: boolean;
      walLevel: string;
      archiveMode: string;
      databaseSizeBytes: number;
    }
  | { ok: false; error: string };

/** Connect to a target and report what the overview shows; never throws, never includes a secret. */
export async function probeTarget(connection: PgConnection): Promise<TargetProbe> {
  try {
    const info = await readServerInfo(connection);
    return {
      ok: true,
      serverVersion: info.version.text,
      versionString: info.versionString,
      inRecovery: info.inRecovery,
      walLevel: info.walLevel,
      archiveMode: info.archiveMode,
      databaseSizeBytes: info.databaseSizeBytes,
    };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
