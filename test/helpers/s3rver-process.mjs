// A real S3-compatible server for tests (s3rver, from the npm registry) in a process of its own,
// so a test can stop it halfway through an upload. Usage: node s3rver-process.mjs <dir> <port> <bucket>
// Prints "ready <port>" when it listens, and "put <key>" for each object it stores.
import S3rver from "s3rver";

const [dir, port, bucket] = process.argv.slice(2);
const server = new S3rver({ address: "127.0.0.1", port: Number(port), silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }] });
server.on("event", (event) => {
  for (const record of event.Records ?? []) if (record.eventName?.startsWith("ObjectCreated")) console.log(`put ${decodeURIComponent(record.s3.object.key)}`);
});
const address = await server.run();
console.log(`ready ${address.port}`);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
