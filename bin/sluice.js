#!/usr/bin/env node
// Runs the CLI from its TypeScript source: Node 24 strips the types itself. npm scripts and npx
// run it with the Node 24 the project installs; an older `node` on the PATH is refused here in a
// line, rather than in a stack trace of a syntax it does not know.
// 22.22: the oldest Node that every dependency supports (@platformatic/kafka's engines).
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(`sluice: Node ${process.versions.node} is too old (22.22 or later, 24 recommended); run it as \`npx sluice\` or through npm scripts, which use the project's Node 24\n`)
  process.exit(1)
}
await import("../src/ops/main.ts")
