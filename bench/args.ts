/** Command-line options of `npm run bench`. */
export type BenchOptions = {
  /** Target database size in bytes, and as given ("1GB"). */
  sizeBytes: number;
  sizeText: string;
  rounds: number;
  /** Markdown report (docs/benchmarks.md); the JSON goes beside it unless --json says otherwise. */
  markdownPath: string;
  jsonPath: string;
  /** Keep the work folder (clusters, repositories) for inspection. */
  keep: boolean;
};

const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  K: 1024,
  KB: 1024,
  KIB: 1024,
  M: 1024 ** 2,
  MB: 1024 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GB: 1024 ** 3,
  GIB: 1024 ** 3,
};

/** "1GB", "100MB", "512M", "0.5GiB" → bytes (binary units: the way pg_database_size is usually read). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match?.[2]?.toUpperCase() ?? "";
  if (!match || !(unit in UNITS)) throw new Error(`--size: expected a size like 1GB or 100MB, got "${text}"`);
  const bytes = Math.round(Number(match[1]) * UNITS[unit]!);
  if (bytes < 20 * 1024 ** 2) throw new Error("--size: at least 20MB (pgbench scale 1 plus some documents)");
  return bytes;
}

export function parseArgs(argv: string[], defaults: { markdownPath: string; jsonPath: string }): BenchOptions {
  const options: BenchOptions = {
    sizeBytes: 1024 ** 3,
    sizeText: "1GB",
    rounds: 3,
    markdownPath: defaults.markdownPath,
    jsonPath: defaults.jsonPath,
    keep: false,
  };
  let jsonGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--size") {
      options.sizeText = value();
      options.sizeBytes = parseSize(options.sizeText);
    } else if (flag === "--rounds") {
      options.rounds = Number(value());
      if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error("--rounds: a whole number, at least 1");
    } else if (flag === "--out") options.markdownPath = value();
    else if (flag === "--json") {
      options.jsonPath = value();
      jsonGiven = true;
    } else if (flag === "--keep") options.keep = true;
    else if (flag === "--help" || flag === "-h") {
      console.log(
        "npm run bench [-- --size 1GB] [--rounds 3] [--out docs/benchmarks.md] [--json docs/benchmarks.json] [--keep]\n" +
          "  Builds a realistic database of --size, runs Lifeboat and the tools it drives interleaved, --rounds times each,\n" +
          "  and writes medians, spread and ratios as markdown and JSON.",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  if (!jsonGiven) options.jsonPath = options.markdownPath.replace(/\.md$/, "") + ".json";
  return options;
}
