import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// No Docker engine runs here: this checks the file users run parses and carries the settings
// DESIGN.md asks for.
const root = import.meta.dirname;

type Service = { image?: string; build?: unknown; command?: string[]; ports?: string[]; volumes?: string[]; environment?: Record<string, string> };

describe("docker-compose.yml", async () => {
  const compose = parse(await readFile(path.join(root, "docker-compose.yml"), "utf8"), { uniqueKeys: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const postgres = compose.services.postgres!;
  const lifeboat = compose.services.lifeboat!;
  const command = (postgres.command ?? []).join(" ");

  it("runs PostgreSQL 15 with the Lifeboat agent on 15432, archiving WAL into the shared backup volume", async () => {
    expect(postgres.build).toEqual({ context: ".", dockerfile: "docker/postgres-agent/Dockerfile" });
    const dockerfile = await readFile(path.join(root, "docker/postgres-agent/Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/FROM postgres:15/);
    expect(postgres.ports).toContain("15432:5432");
    expect(command).toContain("wal_level=replica");
    expect(command).toContain("archive_mode=on");
    expect(command).toContain("archive_command=/usr/local/bin/archive-wal %p /backups/${DB_TARGET_NAME:-allertify}/archive %f");
    // The recovery point objective: a commit reaches the archive within a minute even when little is written.
    const timeout = /(?:^| )archive_timeout=(\d+)(s|min)?(?: |$)/.exec(command);
    expect(timeout, command).not.toBeNull();
    expect(Number(timeout![1]) * (timeout![2] === "min" ? 60 : 1)).toBeLessThanOrEqual(60);
    expect(postgres.volumes).toContain("backups:/backups");
  });

  it("builds Lifeboat with PostgreSQL 15 client tools, sharing the backup volume", async () => {
    expect(lifeboat.build).toBe(".");
    expect(lifeboat.volumes).toContain("backups:/backups");
    expect(lifeboat.environment?.BACKUP_DIR).toBe("/backups");
    const dockerfile = await readFile(path.join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/FROM node:20/);
    expect(dockerfile).toContain("postgresql-client-15");
  });

  it("keeps Lifeboat's metadata out of the cluster it backs up", () => {
    expect(lifeboat.environment?.DATABASE_URL).toContain("@lifeboat-meta:");
    expect(compose.services["lifeboat-meta"]?.image).toBe("postgres:15");
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(["pgdata", "backups", "metadata"]));
  });
});
