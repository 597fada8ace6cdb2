/**
 * Checks the development MySQL/MariaDB named by `MYSQL_URL` for the local stack: reachable, which
 * version, and (on `up`) creates the database the URL names. Never fails and never prints a password.
 */
import { createConnection, type Connection } from "mysql2/promise"
import { Duration, Effect } from "effect"
import { redactUrl } from "../../sinks/warehouse/ConnectionUrl.ts"
import { createDatabaseSql } from "../../sinks/warehouse/MysqlWarehouse.ts"

export { redactUrl }

/** What the check found; `message` is the line to show a person. */
export interface MysqlStatus {
  readonly ok: boolean
  readonly version?: string
  /** The URL with its password replaced by `***`. */
  readonly url: string
  readonly message: string
}

interface MysqlTarget {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
}

const parseTarget = (url: string): MysqlTarget | string => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return "MYSQL_URL is not a URL (expected mysql://user:password@host:port/database)"
  }
  if (parsed.protocol !== "mysql:" && parsed.protocol !== "mariadb:") {
    return `MYSQL_URL has scheme ${parsed.protocol} (expected mysql://user:password@host:port/database)`
  }
  return {
    // WHATWG URLs keep IPv6 hosts in brackets; the driver wants them bare.
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: parsed.port === "" ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || "root",
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, ""))
  }
}

const timeout = Duration.seconds(5)

/**
 * Connects to the server of `url` without selecting its database (it may not exist yet), reads the
 * version and, when `createDatabase` is set, runs `CREATE DATABASE IF NOT EXISTS` for the database
 * the URL names. Any failure becomes `ok: false` with a one-line reason: the app has an embedded
 * warehouse to fall back on, so a missing MySQL is a warning, not an error.
 */
export const checkMysql = (url: string, options: { readonly createDatabase: boolean }): Effect.Effect<MysqlStatus> => {
  const shown = redactUrl(url)
  const target = parseTarget(url)
  if (typeof target === "string") {
    return Effect.succeed({ ok: false, url: shown, message: `MySQL not checked: ${target}` })
  }
  const work = Effect.acquireUseRelease(
    Effect.tryPromise(() =>
      createConnection({
        host: target.host,
        port: target.port,
        user: target.user,
        password: target.password,
        connectTimeout: Duration.toMillis(timeout)
      })
    ),
    (connection: Connection) =>
      Effect.tryPromise(async () => {
        const [rows] = await connection.query("SELECT VERSION() AS version")
        const version = String((rows as Array<{ version?: unknown }>)[0]?.version ?? "unknown")
        let database = ""
        if (target.database !== "") {
          if (options.createDatabase) {
            await connection.query(createDatabaseSql(target.database))
            database = `, database ${target.database} ready`
          } else {
            const [found] = await connection.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [
              target.database
            ])
            database = (found as Array<unknown>).length > 0
              ? `, database ${target.database} exists`
              : `, database ${target.database} missing (sluice stack up creates it)`
          }
        }
        return { version, database }
      }),
    (connection) => Effect.sync(() => connection.destroy())
  )
  return work.pipe(
    Effect.timeout(timeout),
    Effect.map(({ version, database }): MysqlStatus => ({
      ok: true,
      version,
      url: shown,
      message: `MySQL ok (version ${version}) at ${shown}${database}`
    })),
    Effect.catch((error) =>
      Effect.succeed<MysqlStatus>({
        ok: false,
        url: shown,
        message: `MySQL not usable at ${shown}: ${describe(error)}; the app falls back to its embedded warehouse`
      })
    )
  )
}

// Driver errors sit under Effect's UnknownError; keep the driver's own words, on one line.
const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "TimeoutError") {
    return `no answer within ${Duration.format(timeout)}`
  }
  const cause = typeof error === "object" && error !== null && "cause" in error ? error.cause : error
  const message = cause instanceof Error ? cause.message : String(cause)
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  const line = message.split("\n")[0] ?? message
  return line === "" ? code : code === "" || line.includes(code) ? line : `${line} (${code})`
}
