import { describe, expect, it } from "vitest";
import { assertClientNotOlder, ClientTooOldError, parseServerVersionNum, parseVersionText } from "./versions";

describe("parseVersionText", () => {
  it.each([
    ["pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)", 15, 20],
    ["pg_dump (PostgreSQL) 16.4", 16, 4],
    ["psql (PostgreSQL) 17beta1", 17, 0],
    ["pg_restore (PostgreSQL) 14.11 (Ubuntu 14.11-0ubuntu0.22.04.1)", 14, 11],
    ["pg_dump (PostgreSQL) 9.6.24", 9.6, 24],
    ["pg_basebackup (PostgreSQL) 18devel", 18, 0],
  ])("reads %s", (text, major, minor) => {
    const version = parseVersionText(text);
    expect(version.major).toBe(major);
    expect(version.minor).toBe(minor);
  });

  it("refuses text without a version", () => {
    expect(() => parseVersionText("command not found")).toThrow(/Cannot read a PostgreSQL version/);
  });
});

describe("parseServerVersionNum", () => {
  it.each([
    ["150020", 15, 20, "15.20"],
    ["170002", 17, 2, "17.2"],
    ["90624", 9.6, 24, "9.6.24"],
  ])("reads %s", (num, major, minor, text) => {
    expect(parseServerVersionNum(num)).toEqual({ major, minor, text });
  });
});

describe("client/server preflight", () => {
  const server = parseServerVersionNum("150020");

  it("lets an equal major version run, whatever the minor", () => {
    expect(() => assertClientNotOlder("pg_dump", parseVersionText("pg_dump (PostgreSQL) 15.2"), server)).not.toThrow();
  });

  it("lets a newer client run", () => {
    expect(() => assertClientNotOlder("pg_dump", parseVersionText("pg_dump (PostgreSQL) 17.2"), server)).not.toThrow();
  });

  it("refuses an older client, naming both versions and the fix [S19]", () => {
    const client = parseVersionText("pg_dump (PostgreSQL) 14.11 (Ubuntu 14.11-0ubuntu0.22.04.1)");
    let error: unknown;
    try {
      assertClientNotOlder("pg_dump", client, server);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ClientTooOldError);
    const message = (error as Error).message;
    expect(message).toContain("pg_dump 14.11");
    expect(message).toContain("PostgreSQL 15.20");
    expect(message).toContain("postgresql-client-15");
    expect(message).toContain("PG_BIN_DIR");
  });

  it("compares 9.x majors by both parts", () => {
    expect(() => assertClientNotOlder("pg_dump", parseVersionText("9.5.25"), parseServerVersionNum("90624"))).toThrow(ClientTooOldError);
  });
});
