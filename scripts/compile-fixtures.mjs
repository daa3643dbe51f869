// Recompiles tests/fixtures/Token.sol into tests/fixtures/token.json (ABI + bytecode)
// with the solc npm package (no downloads). Usage: node scripts/compile-fixtures.mjs
// from a directory where `npm install solc@0.8.28` was run (NODE_PATH may point there).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const source = fs.readFileSync(path.join(root, "tests/fixtures/Token.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "Token.sol": { content: source } },
  settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const token = output.contracts["Token.sol"].Token;
fs.writeFileSync(
  path.join(root, "tests/fixtures/token.json"),
  JSON.stringify({ compiler: solc.version(), abi: token.abi, bytecode: "0x" + token.evm.bytecode.object }, null, 2) + "\n",
);
console.log("wrote tests/fixtures/token.json");
