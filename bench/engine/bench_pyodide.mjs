// Time the engine benchmark's calls under Pyodide in Node.js.
//
//   node bench/engine/bench_pyodide.mjs [case ...]
//
// Loads the pinned Pyodide from engine/tests/pyodide/node_modules (install with
// `npm ci --prefix engine/tests/pyodide`), copies water_engine and bench_cases.py
// into its filesystem and runs bench_cases.run_all() there, so the timing loop is
// the same Python code as on CPython. Prints one JSON object on stdout.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, loadEngine } from "../../engine/tests/pyodide/load_engine.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

async function main() {
  const names = process.argv.slice(2);
  const started = performance.now();
  const pyodide = await loadEngine({ extraModules: [path.join(here, "bench_cases.py")] });
  const bootSeconds = (performance.now() - started) / 1000;
  pyodide.globals.set("case_names_json", JSON.stringify(names));
  const results = JSON.parse(
    pyodide.runPython(`
import json, bench_cases
bench_cases.run_all_json(json.loads(case_names_json) or None)
`),
  );
  process.stdout.write(JSON.stringify({ ...describe(pyodide), boot_seconds: bootSeconds, results }) + "\n");
}

main().catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
