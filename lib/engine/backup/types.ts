import type { ArtifactKind } from "../repository/artifact-kinds";
import type { Manifest, ManifestFileEntry } from "../repository/manifest";
import type { Repository, StagedArtifact } from "../repository/repository";
import type { PgConnection } from "../pg/connection";
import type { ServerInfo } from "../pg/server-info";
import type { Snapshot } from "../logical/snapshot";

/** What a backup needs to know about its target. */
export type BackupTarget = {
  name: string;
  connection: PgConnection;
  prismaSchemaPath?: string | null | undefined;
  /** Set for a cluster on this host: the environment backup may copy its configuration files from these folders. */
  dataDir?: string | null | undefined;
  configDir?: string | null | undefined;
};

export type BaseCompression = "zstd" | "lz4" | "none";

export type BackupSettings = {
  pgBinDir?: string | undefined;
  /** pg_dump -Z level for the custom-format dump. */
  compressionLevel: number;
  /**
   * How a single-file full dump is compressed: "zstd" streams pg_dump's uncompressed custom format
   * through a 2-thread zstd (full_backup_<time>.dump.zst, LIFEBOAT_DUMP_COMPRESSOR's default);
   * "pg_dump" (default here) is gzip inside pg_dump at compressionLevel (.dump).
   */
  dumpCompression?: "zstd" | "pg_dump" | undefined;
  /** Above 1: the full dump uses the directory format with this many parallel jobs. */
  dumpJobs: number;
  /**
   * Unencrypted base backups: "none" (default here) is a plain data directory checked with
   * pg_verifybackup; "zstd"/"lz4" a tar compressed by the server (LIFEBOAT_BASE_COMPRESSION, whose
   * default is zstd). Encrypted base backups are always one zstd tar stream.
   */
  baseCompression?: BaseCompression | undefined;
  /** age recipients; every artifact is encrypted to them when encryptAll, env backups always. */
  recipients: string[];
  encryptAll: boolean;
  environment: { files: string[]; baseDir: string; rolePasswords: boolean };
  /** How long to wait for table locks the application holds. */
  lockTimeoutSeconds: number;
};

export type BackupProgress = { kind: ArtifactKind; phase: string; bytes?: number | undefined; rows?: number | undefined };

/** Everything one artifact writer gets. It writes into `staged.tempPath` and returns what the manifest should say. */
export type WriterInput = {
  target: BackupTarget;
  settings: BackupSettings;
  repository: Repository;
  staged: StagedArtifact;
  timestamp: string;
  /** Non-empty when this artifact is encrypted. */
  recipients: string[];
  server: ServerInfo;
  /** The set's locked snapshot (full, schema, json). */
  snapshot?: Snapshot | undefined;
  /** Versions of the client tools found by the preflight ("pg_dump" → "15.20"). */
  toolVersions: Record<string, string>;
  signal?: AbortSignal | undefined;
  progress: (phase: string, amounts?: { bytes?: number; rows?: number }) => void;
};

export type Produced = {
  compression: string;
  toolVersions: Record<string, string>;
  tableRowCounts?: Record<string, number> | undefined;
  tableChecksums?: Record<string, string> | undefined;
  notes?: string[] | undefined;
  /** Manifest fields only some kinds have (WAL range, verification). */
  extra?: Partial<Pick<Manifest, "walStartLsn" | "walStopLsn" | "timeline" | "walSegmentSize" | "verification">> | undefined;
  /** Describe only these files (relative to the target folder) instead of every committed file. */
  describe?: (files: ManifestFileEntry[]) => ManifestFileEntry[];
  /** Bytes the artifact occupies, when more than the described files (a base backup's folder). */
  sizeBytes?: number | undefined;
};

export type ArtifactWriter = (input: WriterInput) => Promise<Produced>;

/** One artifact of a backup set. */
export type ArtifactResult =
  | { kind: ArtifactKind; ok: true; file: string; manifestFile: string; manifest: Manifest; durationMs: number }
  | { kind: ArtifactKind; ok: false; file?: string | undefined; error: string; code: string; stderr?: string | undefined; durationMs: number };
