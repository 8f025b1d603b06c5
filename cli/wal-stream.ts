/**
 * npm run wal:stream [-- --target NAME]
 * Continuous WAL streaming into the repository (pg_receivewal on a replication slot): the newest
 * segment is on Lifeboat's disk as it is written, so a disaster loses seconds instead of up to
 * archive_timeout. Runs until stopped (Ctrl-C, SIGTERM); reconnects when the server goes away.
 * The target's role needs REPLICATION.
 */
import { Command } from "commander";
import { OperationAbortedError } from "@/lib/engine/errors";
import { streamSlotName, streamWal } from "@/lib/engine/wal/stream-wal";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, warn } from "./context";

const program = new Command("wal:stream")
  .description("Stream WAL continuously into the repository (seconds of RPO)")
  .option("--target <name>", "target (default: the one from DB_*)")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string }>();
  const session = await openCliSession();
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    warn(`${signal} received: stopping WAL streaming`);
    controller.abort(new OperationAbortedError("interrupted"));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const target = await resolveTarget({ env: session.env, db: session.meta?.db, name: opts.target });
    await target.repository.prepare();
    const slot = streamSlotName(target.name);
    await session.log.write("INFO", "wal-stream", { target: target.name, status: "STARTED", slot });
    await streamWal({
      connection: target.connection,
      streamDir: target.repository.streamDir,
      slot,
      pgBinDir: session.env.PG_BIN_DIR,
      signal: controller.signal,
      onEvent: (message) => {
        warn(message);
        if (message.startsWith("streaming stopped")) void session.log.write("ERROR", "wal-stream", { target: target.name, status: "FAILED", error: message });
      },
    });
    await session.log.write("INFO", "wal-stream", { target: target.name, status: "STOPPED" });
    return 0;
  } finally {
    await session.close();
  }
});
