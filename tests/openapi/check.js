// Validates api/openapi.yaml with @apidevtools/swagger-parser (OpenAPI 3 schema and
// references), then compares its paths with the routes the server answers
// (`bin/cmdb routes`, one "METHOD /path" per line, in the file named by argv[3]).
// Prints one "ok"/"FAIL" line per check and "N passed, N failed".
'use strict';
const fs = require('fs');
const SwaggerParser = require('@apidevtools/swagger-parser');

const specPath = process.argv[2];
const routesPath = process.argv[3];
let passed = 0;
let failed = 0;
function check(ok, name, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}

(async () => {
  let api;
  try {
    api = await SwaggerParser.validate(specPath);
    check(true, `${specPath} is a valid OpenAPI ${api.openapi} document`);
  } catch (e) {
    check(false, `${specPath} is a valid OpenAPI document`, e.message);
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exit(1);
  }
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
  const documented = new Set();
  for (const [path, item] of Object.entries(api.paths)) {
    for (const m of methods) if (item[m]) documented.add(`${m.toUpperCase()} ${path}`);
  }
  const served = new Set(fs.readFileSync(routesPath, 'utf8').split('\n').filter(Boolean));
  const undocumented = [...served].filter((r) => !documented.has(r));
  const unserved = [...documented].filter((r) => !served.has(r));
  check(served.size > 0, `the router lists its routes (${served.size})`);
  check(undocumented.length === 0, 'every route the server answers is in the document',
    undocumented.join(', '));
  check(unserved.length === 0, 'every path of the document is a route the server answers',
    unserved.join(', '));
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
