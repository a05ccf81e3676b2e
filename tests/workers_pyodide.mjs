// entry.py in real Pyodide under Node, as workerd would run it (see test_pyodide.py).
//
//   node --experimental-wasm-jspi workers_pyodide.mjs CONFIG.json
//
// CONFIG names the pyodide npm package folder, the folder of unpacked wheels, the
// project's src, the entry module's folder, the D1 double module, the Worker's vars
// and the steps: {"request": {method, path, headers, body}} sent through the
// entrypoint's fetch as a real Fetch Request, or {"d1_execute": sql} run on the
// D1 binding as `wrangler d1 execute --file` would. The last line of stdout is one
// JSON object: the runtime's versions and one answer per step.
//
// What workerd itself provides to the `workers` SDK is played here: the JS modules
// `_cloudflare_compat_flags` and `_pyodide_entrypoint_helper`, the ctx, and the call
// of `Default(ctx, env).fetch(request)` whose `js_object` is the answer.
import { readFileSync } from "node:fs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(`${config.pyodide}/pyodide.mjs`);
const { D1Database } = await import(config.d1_double);

class R2Bucket {
  // Enough of an R2 binding for the store to be made; the steps do not use it.
  constructor() {
    this.objects = new Map();
  }
  async put(key, value) {
    this.objects.set(key, new Uint8Array(await new Response(value).arrayBuffer()));
    return { key, size: this.objects.get(key).byteLength };
  }
  async get(key) {
    const data = this.objects.get(key);
    return data === undefined ? null : new Response(data);
  }
  async head(key) {
    const data = this.objects.get(key);
    return data === undefined ? null : { key, size: data.byteLength };
  }
  async delete(key) {
    this.objects.delete(key);
  }
}

const started = Date.now();
const pyodide = await loadPyodide({ indexURL: `${config.pyodide}/` });
for (const [host, at] of [
  [config.site, "/site"],
  [config.src, "/src"],
  [config.entry, "/entry"],
]) {
  pyodide.FS.mkdirTree(at);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: host }, at);
}

const env = {
  DB: new D1Database(),
  ARTIFACTS: new R2Bucket(),
  ...config.vars,
};
const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };
pyodide.registerJsModule("_cloudflare_compat_flags", {
  python_workflows_implicit_dependencies: false,
  python_request_headers_preserve_commas: false,
});
pyodide.registerJsModule("_pyodide_entrypoint_helper", {
  cloudflareWorkersModule: { env, waitUntil() {} },
  cloudflareSocketsModule: {},
  doAnImport: (name) => import(name),
  patchWaitUntil() {},
});
pyodide.runPython('import sys; sys.path[:0] = ["/site", "/src", "/entry"]');
const entry = pyodide.pyimport("entry");
const loaded = Date.now();

const answers = [];
for (const step of config.steps) {
  if (step.d1_execute !== undefined) {
    env.DB.sqlite.exec(step.d1_execute);
    answers.push({ d1_execute: "ok" });
    continue;
  }
  const { method, path, headers, body } = step.request;
  const request = new Request(config.origin + path, { method, headers, body });
  const worker = entry.Default(ctx, env);
  const answer = await worker.fetch(request);
  const response = answer?.js_object ?? answer;
  answers.push({
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
    response_is_js: response instanceof Response,
  });
  answer.destroy?.();
  worker.destroy();
}

const versions = pyodide.runPython(
  "import sys, pydantic, pydantic_core, sqlalchemy, workers\n" +
    "from importlib.metadata import version\n" +
    "import json; json.dumps({'python': sys.version.split()[0], " +
    "'pydantic': pydantic.VERSION, 'pydantic_core': pydantic_core.__version__, " +
    "'sqlalchemy': sqlalchemy.__version__, " +
    "'workers_sdk': version('workers-runtime-sdk'), 'workers_file': workers.__file__, " +
    "'cryptography': 'cryptography' in sys.modules, " +
    "'ssea_core_file': sys.modules['ssea_core'].__file__})",
);
console.log(
  JSON.stringify({
    pyodide: pyodide.version,
    ...JSON.parse(versions),
    d1_log_size: env.DB.log.length,
    load_ms: loaded - started,
    steps_ms: Date.now() - loaded,
    answers,
  }),
);
