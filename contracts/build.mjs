#!/usr/bin/env node
// Compiles contracts/src and contracts/test with the pinned solc-js (standard JSON) and writes
// one artifact per contract to contracts/out/<Name>.json (abi, bytecode, deployedBytecode).
//
//   node build.mjs           compile and write the artifacts
//   node build.mjs --check   compile and fail if the committed artifacts differ
//
// The output depends only on the sources, the pinned compiler and the settings below, so the
// artifacts are reproducible on any machine; CI runs --check.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const solc = require('solc');
const pinned = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8')).devDependencies.solc;

const check = process.argv.includes('--check');
if (!solc.version().startsWith(`${pinned}+`)) {
  console.error(`solc ${solc.version()} is not the pinned ${pinned}: run npm ci in contracts/`);
  process.exit(1);
}

const sources = {};
for (const dir of ['src', 'test']) {
  for (const f of fs.readdirSync(path.join(here, dir)).filter((f) => f.endsWith('.sol')).sort()) {
    sources[`${dir}/${f}`] = { content: fs.readFileSync(path.join(here, dir, f), 'utf8') };
  }
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: 'cancun',
    optimizer: { enabled: true, runs: 10000 },
    viaIR: true,
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};

function findImports(p) {
  const file = path.join(here, 'node_modules', p);
  if (!p.startsWith('@openzeppelin/') || !fs.existsSync(file)) return { error: `not found: ${p}` };
  return { contents: fs.readFileSync(file, 'utf8') };
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

const outDir = path.join(here, 'out');
fs.mkdirSync(outDir, { recursive: true });
let stale = [];
for (const [source, contracts] of Object.entries(output.contracts)) {
  if (!(source in sources)) continue; // libraries are compiled into the contracts that use them
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName: source,
      compiler: `solc ${solc.version()}`,
      settings: input.settings,
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
    const text = `${JSON.stringify(artifact, null, 2)}\n`;
    const file = path.join(outDir, `${name}.json`);
    if (check) {
      const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      if (committed !== text) stale.push(path.relative(here, file));
    } else {
      fs.writeFileSync(file, text);
      console.log(`wrote ${path.relative(here, file)} (${(artifact.deployedBytecode.length - 2) / 2} bytes deployed)`);
    }
  }
}
if (check) {
  if (stale.length) {
    console.error(`artifacts out of date (run npm run build in contracts/): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log('artifacts match the sources');
}
