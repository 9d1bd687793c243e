// Run water_engine under Pyodide on a JSONL file of requests.
//
//   node engine/tests/pyodide/run_engine.mjs IN.jsonl OUT.jsonl [--engine-src DIR]
//
// Each input line is a request for water_engine.run; each output line is the
// canonical result written by parity_runner.py (floats as their Python repr,
// exceptions as {"error", "message"}), in input order. Prints one JSON line of
// metadata (versions, count, seconds) on stdout. Exit 1 on any failure.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, loadEngine, PY_ROOT } from "./load_engine.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const positional = [];
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--engine-src") options.engineSrc = path.resolve(argv[++i]);
    else positional.push(argv[i]);
  }
  if (positional.length !== 2) {
    console.error("usage: node run_engine.mjs IN.jsonl OUT.jsonl [--engine-src DIR]");
    process.exit(2);
  }
  return { inPath: positional[0], outPath: positional[1], ...options };
}

async function main() {
  const { inPath, outPath, engineSrc } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const pyodide = await loadEngine({ engineSrc, extraModules: [path.join(here, "parity_runner.py")] });
  const booted = performance.now();
  pyodide.FS.mkdirTree("/io");
  pyodide.FS.writeFile("/io/in.jsonl", fs.readFileSync(inPath));
  const count = pyodide.runPython(`
import parity_runner
parity_runner.run_file("/io/in.jsonl", "/io/out.jsonl")
`);
  fs.writeFileSync(outPath, pyodide.FS.readFile("/io/out.jsonl"));
  const done = performance.now();
  const meta = {
    ...describe(pyodide),
    count,
    boot_seconds: (booted - started) / 1000,
    run_seconds: (done - booted) / 1000,
    py_root: PY_ROOT,
  };
  process.stdout.write(JSON.stringify(meta) + "\n");
}

main().catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
