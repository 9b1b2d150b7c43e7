// Loads paychan-wasm (built by scripts/build-wasm.sh with `wasm-bindgen --target web`) once,
// in the browser (fetched next to this module) or in Node (read from disk).
import initWasm, { initSync } from "../wasm/paychan_wasm.js";

export * from "../wasm/paychan_wasm.js";

let ready: Promise<void> | undefined;

/** The URL of the `.wasm` file, beside the generated glue in `wasm/`. */
export function wasmUrl(): URL {
  return new URL("../wasm/paychan_wasm_bg.wasm", import.meta.url);
}

/**
 * Instantiates the WebAssembly module. Call (and await) once before anything else;
 * later calls answer the same promise. `source` overrides where the `.wasm` comes from
 * (a URL, a Response, or its bytes).
 */
export function init(source?: URL | string | Response | BufferSource): Promise<void> {
  ready ??= (async () => {
    const isNode = typeof process !== "undefined" && process.versions?.node !== undefined;
    if (source === undefined && isNode) {
      const { readFile } = await import("node:fs/promises");
      initSync({ module: await readFile(wasmUrl()) });
      return;
    }
    await initWasm({ module_or_path: source ?? wasmUrl() });
  })();
  return ready;
}
