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
// libuv runs every file operation on a pool of 4 threads by default; the lake's fsyncs hold one for
// milliseconds each, so 4 partitions committing 5 tables at once queued their reads and renames
// behind other commits' fsyncs. Read when the pool first starts, so set before any file I/O.
process.env.UV_THREADPOOL_SIZE ??= "16"
// V8 lets the young generation grow to semi-spaces of 16 MB or more, and the heap it grew at start-up
// (the whole TypeScript source compiled) is kept: capped at 4 MB, a loaded service idles at 181 MB of
// RSS instead of 234. Node reads heap flags only when it starts, so the CLI starts itself again with
// them, in the same process (process.execve: same pid, so signals and exit codes are untouched).
// Node strips the types of each TypeScript file with a WebAssembly compiler whose memory stays once
// loaded (~20 MB in each thread that strips, the Parquet workers included); Node's compile cache keeps
// the stripped and compiled code, so a second start never loads that compiler. Set in the environment
// so that the workers and the snapshot processes use it too (unless NODE_COMPILE_CACHE says otherwise).
const HEAP_FLAGS = ["--max-semi-space-size=4"]
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)]
if (typeof process.execve === "function" && !given.some((a) => a.startsWith("--max-semi-space-size"))) {
  const { tmpdir } = await import("node:os")
  // glibc gives each thread that allocates its own malloc arena (up to 8 per core), and keeps what
  // they freed: two arenas took `run` over the bench's lake from 424 to 387 MB of peak RSS.
  const env = { NODE_COMPILE_CACHE: `${tmpdir()}/node-compile-cache`, MALLOC_ARENA_MAX: "2", ...process.env }
  process.execve(process.execPath, [process.execPath, ...HEAP_FLAGS, ...process.execArgv, ...process.argv.slice(1)], env)
}
await import("../src/ops/main.ts")
