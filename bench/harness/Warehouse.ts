/**
 * MySQL for the bench: whether `sluice run` can write the warehouse yet, and throw-away databases
 * (created for a scenario, dropped after it) on the server of `MYSQL_URL`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { createConnection } from "mysql2/promise"
import { DEFAULT_MYSQL_URL } from "../../src/sinks/warehouse/ConnectionUrl.ts"

/** The server of `MYSQL_URL` (default the local MariaDB, root without password), without a database. */
export const mysqlServerUrl = (): URL => {
  const url = new URL(process.env["MYSQL_URL"] || DEFAULT_MYSQL_URL)
  url.pathname = "/"
  return url
}

/** `mysqlServerUrl()` pointing at `database`: the `MYSQL_URL` a child process gets. */
export const databaseUrl = (database: string): string => {
  const url = mysqlServerUrl()
  url.pathname = `/${database}`
  return url.toString()
}

const connect = () => {
  const url = mysqlServerUrl()
  return createConnection({
    host: url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: url.port === "" ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username) || "root",
    password: decodeURIComponent(url.password),
    connectTimeout: 5_000
  })
}

const quote = (name: string): string => "`" + name.replaceAll("`", "``") + "`"

/** Creates (empty) a database named `name` and returns its URL; `dropDatabase` removes it. */
export const createDatabase = async (name: string): Promise<string> => {
  const c = await connect()
  try {
    await c.query(`DROP DATABASE IF EXISTS ${quote(name)}`)
    await c.query(`CREATE DATABASE ${quote(name)} CHARACTER SET utf8mb4`)
  } finally {
    await c.end()
  }
  return databaseUrl(name)
}

export const dropDatabase = async (name: string): Promise<void> => {
  const c = await connect()
  try {
    await c.query(`DROP DATABASE IF EXISTS ${quote(name)}`)
  } finally {
    await c.end()
  }
}

/** Rows of `table` in `database`, or undefined when the table does not exist. */
export const countRows = async (database: string, table: string): Promise<number | undefined> => {
  const c = await connect()
  try {
    const [exists] = await c.query(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
      [database, table]
    )
    if (Number((exists as Array<{ n: number }>)[0]?.n ?? 0) === 0) return undefined
    const [rows] = await c.query(`SELECT COUNT(*) AS n FROM ${quote(database)}.${quote(table)}`)
    return Number((rows as Array<{ n: number }>)[0]?.n ?? 0)
  } finally {
    await c.end()
  }
}

export interface WarehouseSupport {
  readonly available: boolean
  readonly reason: string
}

const readSources = (dir: string): string =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".ts"))
      .map((e) => readFileSync(path.join(e.parentPath, e.name), "utf8"))
      .join("\n")
    : ""

/**
 * Whether `sluice run` can write the warehouse: the sink exists (src/sinks/warehouse/) and the
 * service reads `SLUICE_SINKS` to choose sinks. Until both hold, the warehouse scenarios are
 * reported as skipped; once they do, they run with no change here.
 */
export const warehouseSupport = (root: string): WarehouseSupport => {
  const sinkDir = path.join(root, "src", "sinks", "warehouse")
  const ops = readSources(path.join(root, "src", "ops"))
  if (!existsSync(sinkDir)) return { available: false, reason: "warehouse sink not available" }
  if (!ops.includes("SLUICE_SINKS")) {
    return { available: false, reason: "warehouse sink not available (sluice run does not read SLUICE_SINKS yet)" }
  }
  return { available: true, reason: "src/sinks/warehouse exists and sluice run reads SLUICE_SINKS" }
}
