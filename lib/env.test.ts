import { describe, expect, it } from "vitest";
import { EnvError, parseEnv, requireAuthSecret } from "./env";

const base = { DATABASE_URL: "postgres://lifeboat:s3cret-pass@127.0.0.1:15433/lifeboat" };

describe("parseEnv", () => {
  it("applies the seed's defaults for the default target", () => {
    const env = parseEnv(base);
    expect(env).toMatchObject({ DB_HOST: "localhost", DB_PORT: 15432, DB_NAME: "allertify", DB_USER: "allertify", BACKUP_DIR: "./backups" });
    expect(env.DB_PASSWORD).toBeUndefined();
  });

  it("names a malformed port in one line", () => {
    expect(() => parseEnv({ ...base, DB_PORT: "fifteen" })).toThrow(EnvError);
    try {
      parseEnv({ ...base, DB_PORT: "70000" });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^Invalid configuration: DB_PORT must be between 1 and 65535/);
      expect(message).not.toContain("\n");
    }
  });

  it("names a missing DATABASE_URL", () => {
    expect(() => parseEnv({})).toThrow(/DATABASE_URL is required/);
  });

  it("never echoes a secret value it refuses [S24]", () => {
    let message = "";
    try {
      parseEnv({ DATABASE_URL: "mysql://root:hunter2hunter2@db/x" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("DATABASE_URL must be a postgres:// URL");
    expect(message).not.toContain("hunter2");
  });

  it("requires a long enough AUTH_SECRET for the web app", () => {
    expect(() => requireAuthSecret(parseEnv(base))).toThrow(/AUTH_SECRET is required/);
    expect(() => parseEnv({ ...base, AUTH_SECRET: "short" })).toThrow(/AUTH_SECRET must be at least 32 characters/);
    expect(requireAuthSecret(parseEnv({ ...base, AUTH_SECRET: "x".repeat(40) }))).toHaveLength(40);
  });
});
