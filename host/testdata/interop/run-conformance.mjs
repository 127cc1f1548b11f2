// Runs the MCP conformance suite (@modelcontextprotocol/conformance 0.1.16,
// every server scenario: --suite all) with Node 22 from node_modules against
// an MCP endpoint, and writes one results file for host/interop_test.go:
//
//   node run-conformance.mjs URL OUTDIR
//
// OUTDIR receives the suite's own per-scenario directories
// (server-<scenario>-<timestamp>/checks.json), its console output
// (suite-output.txt) and results.json:
//
//   {"suite": "@modelcontextprotocol/conformance@0.1.16", "url": URL,
//    "order": ["<scenario>", ...],   (the suite's own order)
//    "scenarios": {"<scenario>": {"passed": true|false,
//                                 "checks": [{"id","status","errorMessage"}]}}}
//
// A scenario passes when none of its checks has status FAILURE (the suite's
// own rule). The exit code is 0 when results.json was written, whatever the
// scenarios did; the caller compares them with its expected failures.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node run-conformance.mjs URL OUTDIR');
  process.exit(2);
}
const node22 = join(here, 'node_modules', '.bin', 'node');
const cli = join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
for (const f of [node22, cli]) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: run "npm ci" in ${here}`);
    process.exit(2);
  }
}
mkdirSync(outDir, { recursive: true });

function suite(args, timeout) {
  const r = spawnSync(node22, [cli, ...args], { cwd: outDir, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) {
    console.error(`conformance ${args.join(' ')}: ${r.error.message}`);
    process.exit(2);
  }
  return r;
}

// The scenario list comes from the suite itself, so a scenario that crashed
// before writing its checks is reported rather than silently missing.
const list = suite(['list', '--server'], 60_000);
const names = [...list.stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
if (names.length === 0) {
  console.error(`conformance list printed no scenarios:\n${list.stdout}\n${list.stderr}`);
  process.exit(2);
}

const run = suite(['server', '--url', url, '--suite', 'all', '--output-dir', outDir], 15 * 60_000);
writeFileSync(join(outDir, 'suite-output.txt'), `${run.stdout}\n--- stderr ---\n${run.stderr}`);

const stamp = /-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
const results = { suite: '@modelcontextprotocol/conformance@0.1.16', url, order: names, scenarios: {} };
for (const name of names) {
  results.scenarios[name] = {
    passed: false,
    checks: [{ id: name, status: 'FAILURE', errorMessage: 'the suite wrote no checks.json for this scenario' }]
  };
}
for (const entry of readdirSync(outDir, { withFileTypes: true })) {
  if (!entry.isDirectory() || !entry.name.startsWith('server-') || !stamp.test(entry.name)) {
    continue;
  }
  const name = entry.name.slice('server-'.length).replace(stamp, '');
  const checks = JSON.parse(readFileSync(join(outDir, entry.name, 'checks.json'), 'utf8'));
  results.scenarios[name] = {
    passed: !checks.some((c) => c.status === 'FAILURE'),
    checks: checks.map((c) => ({ id: c.id, status: c.status, errorMessage: c.errorMessage }))
  };
}
writeFileSync(join(outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
const passed = Object.values(results.scenarios).filter((s) => s.passed).length;
console.log(`${passed} of ${names.length} scenarios passed; results in ${join(outDir, 'results.json')}`);
