// Stands in for the whatwg-url package in the bundle. node-fetch 2 (under client-node) takes URL
// from node:url and only falls back to whatwg-url, whose IDNA tables (tr46, 260 KB, and the
// deprecated punycode module) the process would otherwise load and never use.
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export default { URL, URLSearchParams };
