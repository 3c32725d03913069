// The pinned Inspector CLI (0.15.0, the newest that runs on Node 20) has no option to send a header, and
// `byom mcp --http` requires `Authorization: Bearer <token>`. tests/tools/test_inspector_cli.py preloads this
// file (NODE_OPTIONS=--require) so that every request the Inspector makes carries the token named by
// BYOM_INSPECTOR_BEARER, as a host configured from `byom doctor`'s snippet would send it.
"use strict";
const token = process.env.BYOM_INSPECTOR_BEARER;
if (token) {
  const original = globalThis.fetch;
  globalThis.fetch = (input, init = {}) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("authorization", `Bearer ${token}`);
    return original(input, { ...init, headers });
  };
}
