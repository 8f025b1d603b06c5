import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// No Docker engine runs here, so the image is never built in tests: this checks that the compose
// file, the Dockerfile and the entrypoint hold together (the agent itself is tested against a real
// cluster in lib/jobs/agent.integration.test.ts).
const root = path.resolve(import.meta.dirname, "..", "..");
const exec = promisify(execFile);

type Service = {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  command?: string[];
  init?: boolean;
  environment?: Record<string, string>;
  volumes?: string[];
};

describe("the postgres service: postgres:15 with the Lifeboat agent", async () => {
  const compose = parse(await readFile(path.join(root, "docker-compose.yml"), "utf8"), { uniqueKeys: true }) as { services: Record<string, Service> };
  const postgres = compose.services.postgres!;
  const dockerfile = await readFile(path.join(root, "docker/postgres-agent/Dockerfile"), "utf8");
  const entrypoint = await readFile(path.join(root, "docker/postgres-agent/entrypoint.sh"), "utf8");

  it("is built from docker/postgres-agent with the repository as context", () => {
    expect(postgres.build).toEqual({ context: ".", dockerfile: "docker/postgres-agent/Dockerfile" });
    expect(postgres.image).not.toBe("postgres:15"); // never shadow the official image lifeboat-meta uses
    expect(postgres.init).toBe(true);
  });

  it("archives WAL into the shared repository, which the agent reads base backups from", () => {
    const command = (postgres.command ?? []).join(" ");
    expect(command).toContain("-c wal_level=replica");
    expect(command).toContain("-c archive_mode=on");
    expect(command).toMatch(/-c archive_command=\/usr\/local\/bin\/archive-wal %p \/backups\/\$\{DB_TARGET_NAME:-allertify\}\/archive %f/);
    expect(postgres.volumes).toEqual(expect.arrayContaining(["pgdata:/var/lib/postgresql/data", "backups:/backups"]));
    expect(postgres.environment).toMatchObject({ BACKUP_DIR: "/backups", DB_HOST: "127.0.0.1", PGDATA: "/var/lib/postgresql/data/pgdata" });
    expect(postgres.environment?.DATABASE_URL).toContain("@lifeboat-meta:");
  });

  it("adds Node 20 from the official image and Lifeboat's runtime dependencies (tsx among them) to postgres:15", async () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim AS node$/m);
    expect(dockerfile).toMatch(/^FROM postgres:15(-bookworm)?$/m);
    expect(dockerfile).toContain("COPY --from=node /usr/local/bin/node /usr/local/bin/node");
    expect(dockerfile).toContain("npm ci --omit=dev");
    const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies)).toContain("tsx");
    expect(pkg.scripts.agent).toBe("node --env-file-if-exists=.env --import tsx cli/agent.ts");
  });

  it("initialises like the official image, then execs the supervising agent with pg_ctl control", async () => {
    await exec("bash", ["-n", path.join(root, "docker/postgres-agent/entrypoint.sh")]);
    expect(entrypoint).toContain("source /usr/local/bin/docker-entrypoint.sh");
    expect(entrypoint).toMatch(/docker_init_database_dir[\s\S]*docker_setup_db[\s\S]*docker_temp_server_stop/);
    expect(entrypoint).toContain("DB_CONTROL=pg_ctl");
    expect(entrypoint).toMatch(/exec node --import tsx cli\/agent\.ts --target "\$target" --supervise$/m);
  });

  it("leaves the Lifeboat containers off the database host", () => {
    for (const name of ["lifeboat", "lifeboat-worker"]) expect(compose.services[name]?.environment?.DB_DATA_DIR, name).toBe("");
  });
});
