// Boot Pyodide in Node.js with water_engine's source in its filesystem.
//
// Shared by run_engine.mjs (parity test) and bench/engine/bench_pyodide.mjs.
// Everything comes from node_modules/pyodide (wasm runtime + stdlib zip) and the
// repository; any attempt to fetch over the network throws, so a run that
// passes is a run that needed no network.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const INSTALL_COMMAND = "npm ci --prefix engine/tests/pyodide";
export const DEFAULT_ENGINE_SRC = path.resolve(here, "../../src/water_engine");
// Where Python code lives inside Pyodide's filesystem (put on sys.path).
export const PY_ROOT = "/water";

function forbidNetwork() {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (resource, ...rest) => {
    const url = String(resource?.url ?? resource);
    if (/^(https?|wss?):/i.test(url)) {
      throw new Error(`network access attempted at run time: ${url}`);
    }
    return realFetch(resource, ...rest);
  };
}

async function importPyodide() {
  try {
    return await import("pyodide");
  } catch (err) {
    throw new Error(`cannot load the npm package pyodide (${err.message}); install it with: ${INSTALL_COMMAND}`);
  }
}

function copyTree(FS, srcDir, destDir) {
  FS.mkdirTree(destDir);
  for (const entry of fs.readdirSync(srcDir, { withFileTypes: true })) {
    if (entry.name === "__pycache__" || entry.name.endsWith(".egg-info")) continue;
    const src = path.join(srcDir, entry.name);
    const dest = `${destDir}/${entry.name}`;
    if (entry.isDirectory()) copyTree(FS, src, dest);
    else if (entry.name.endsWith(".py") || entry.name === "py.typed") FS.writeFile(dest, fs.readFileSync(src));
  }
}

/**
 * Load Pyodide, copy the engine package (and any extra single-file modules) into
 * PY_ROOT, put PY_ROOT on sys.path and import water_engine.
 * @param {{engineSrc?: string, extraModules?: string[]}} options
 */
export async function loadEngine({ engineSrc = DEFAULT_ENGINE_SRC, extraModules = [] } = {}) {
  forbidNetwork();
  const { loadPyodide } = await importPyodide();
  const pyodide = await loadPyodide();
  const { FS } = pyodide;
  copyTree(FS, engineSrc, `${PY_ROOT}/${path.basename(engineSrc)}`);
  for (const file of extraModules) {
    FS.writeFile(`${PY_ROOT}/${path.basename(file)}`, fs.readFileSync(file));
  }
  pyodide.runPython(`
import sys
sys.path.insert(0, ${JSON.stringify(PY_ROOT)})
sys.dont_write_bytecode = True
import water_engine
`);
  return pyodide;
}

/** Versions of the runtime, for reports. */
export function describe(pyodide) {
  return {
    node: process.version,
    pyodide: pyodide.version,
    python: pyodide.runPython("import sys; sys.version.split()[0]"),
  };
}
