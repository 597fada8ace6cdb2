import { defineConfig } from "vitest/config"

// Unit tests run in parallel and need nothing; integration tests share one real Kafka broker and
// MySQL (started by the global setup) and run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.integration.test.ts"],
          testTimeout: 30_000
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.integration.test.ts"],
          globalSetup: ["test/setup/services.ts"],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000
        }
      }
    ]
  }
})
