#!/usr/bin/env node
// Runs the CLI from its TypeScript source: Node 24 strips the types itself.
import "../src/ops/main.ts"
